/**
 * jest's `expect` takes no message: `inContext` prefixes the failure of
 * whatever runs inside it with a label (which case, which instance), as
 * node:assert's message argument used to.
 */
export async function inContext<T>(label: string, fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof Error) error.message = `${label}\n\n${error.message}`;
    throw error;
  }
}
