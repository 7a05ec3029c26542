// Errors that the real system returns are values, never exceptions (design: "Errors that
// the real system returns are values. An exception means a bug in the model.").

export type Ok<T> = { readonly ok: true; readonly value: T };
export type Err<E> = { readonly ok: false; readonly error: E };
export type Result<T, E> = Ok<T> | Err<E>;

export function ok<T>(value: T): Ok<T> {
  return { ok: true, value };
}

export function err<E>(error: E): Err<E> {
  return { ok: false, error };
}

/** The shared success value for results that carry nothing. */
export const OK_VOID: Ok<undefined> = Object.freeze({
  ok: true,
  value: undefined,
}) as Ok<undefined>;
