/**
 * The few error classes whose kind decides what happens next (STYLE.md, habit 2):
 * - InputError: the input is wrong (a file, a column, a flag). Fail clearly, never retry.
 * - TransientError: something outside us hiccupped (Redis, disk full). A retry can help.
 * Every message names the file, column, field or value and, where it can, how to fix it.
 */
export interface InputErrorContext {
  file?: string;
  column?: string;
  field?: string;
}

export class InputError extends Error {
  readonly file?: string;
  readonly column?: string;
  readonly field?: string;
  constructor(message: string, context: InputErrorContext = {}) {
    super(message);
    this.name = 'InputError';
    this.file = context.file;
    this.column = context.column;
    this.field = context.field;
  }
}

export class TransientError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TransientError';
  }
}

/** One line for a terminal or a job's failure reason: no stack, no newlines. */
export function oneLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.replace(/\s*\n\s*/g, ' ').trim();
}
