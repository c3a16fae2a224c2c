/**
 * This package's version, sent as `hello.agent_version` and `agent_status.agent_version` (a test keeps it equal to
 * package.json's).
 *
 * @example
 * AGENT_VERSION // '0.1.0'
 */
export const AGENT_VERSION = '0.1.0';
