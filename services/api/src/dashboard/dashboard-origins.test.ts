import { describe, expect, it } from 'vitest';
import { dashboardOrigins } from './dashboard-sockets.js';

describe('dashboardOrigins', () => {
  it('admits the public URL and Z4J_CORS_ORIGINS', () => {
    const origins = dashboardOrigins('https://z4j.example.com/', ['https://ops.example.com']);
    expect([...origins].sort()).toEqual(['https://ops.example.com', 'https://z4j.example.com']);
  });

  it('a loopback public URL admits every loopback name on the same port and scheme, nothing else', () => {
    const origins = dashboardOrigins('http://localhost:7700', []);
    expect([...origins].sort()).toEqual(['http://127.0.0.1:7700', 'http://[::1]:7700', 'http://localhost:7700']);
    expect(origins.has('http://127.0.0.1:7701')).toBe(false);
    expect(origins.has('https://127.0.0.1:7700')).toBe(false);
  });
});
