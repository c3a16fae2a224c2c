/**
 * Postgres errors classified by SQLSTATE, never by message text. Both drivers
 * (node-postgres and the embedded PGlite worker) surface `.code`.
 */
export type SqlErrorClass = 'retryable' | 'conflict' | 'not_found' | 'invalid' | 'timeout' | 'fatal';

const CLASS_BY_SQLSTATE: Readonly<Record<string, SqlErrorClass>> = {
  '40001': 'retryable', // serialization_failure
  '40P01': 'retryable', // deadlock_detected
  '55P03': 'retryable', // lock_not_available (lock_timeout)
  '57P01': 'retryable', // admin_shutdown
  '57P02': 'retryable', // crash_shutdown
  '57P03': 'retryable', // cannot_connect_now
  '08000': 'retryable', // connection_exception
  '08003': 'retryable', // connection_does_not_exist
  '08006': 'retryable', // connection_failure
  '08001': 'retryable', // sqlclient_unable_to_establish_sqlconnection
  '08004': 'retryable', // sqlserver_rejected_establishment_of_sqlconnection
  '53300': 'retryable', // too_many_connections
  '57014': 'timeout', // query_canceled (statement_timeout)
  '25P03': 'timeout', // idle_in_transaction_session_timeout
  '23505': 'conflict', // unique_violation
  '23P01': 'conflict', // exclusion_violation
  '23503': 'invalid', // foreign_key_violation
  '23502': 'invalid', // not_null_violation
  '23514': 'invalid', // check_violation
  '22P02': 'invalid', // invalid_text_representation
  '22007': 'invalid', // invalid_datetime_format
  '22008': 'invalid', // datetime_field_overflow
  '22003': 'invalid', // numeric_value_out_of_range
  '22001': 'invalid', // string_data_right_truncation
  '42P01': 'not_found', // undefined_table
  '42703': 'not_found', // undefined_column
  '42883': 'not_found', // undefined_function
};

export function sqlStateOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

export function classifySqlError(error: unknown): SqlErrorClass {
  const code = sqlStateOf(error);
  if (code === undefined) return 'fatal';
  return CLASS_BY_SQLSTATE[code] ?? 'fatal';
}

export function isRetryableSqlError(error: unknown): boolean {
  return classifySqlError(error) === 'retryable';
}

export function isUniqueViolation(error: unknown): boolean {
  return sqlStateOf(error) === '23505';
}
