import { MongoServerError } from 'mongodb';

/** Awaits a driver call that the server must refuse, and returns its error. */
export async function serverError(promise: Promise<unknown>): Promise<MongoServerError> {
  const err = await promise.then(
    () => {
      throw new Error('expected the server to refuse');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(MongoServerError);
  return err as MongoServerError;
}
