/**
 * Errors nest-oban raises itself. Each message names the thing that is wrong
 * (queue, worker, option, field) and, where it can, says what to do.
 */
export class ObanError extends Error {
  override name = 'ObanError';
}

/** Bad module options or worker declarations, raised while the app boots. */
export class ObanConfigError extends ObanError {
  override name = 'ObanConfigError';
}

/** Bad input to insert/insertAll or another API call; nothing was written. */
export class ObanValidationError extends ObanError {
  override name = 'ObanValidationError';
}
