/** Absolute path of the built dashboard (index.html and assets/). */
export declare const DASHBOARD_DIST: string;
