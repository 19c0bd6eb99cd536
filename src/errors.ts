/**
 * Typed errors. Library code throws these; the CLI catches them once, prints
 * one line and picks the exit code. Anything else is a bug and gets a stack.
 */
export abstract class MikrotikTailscaleError extends Error {
  abstract readonly exitCode: number;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The user asked for something that cannot mean anything: exit 2. */
export class UsageError extends MikrotikTailscaleError {
  readonly exitCode = 2;
}

/** The request made sense but could not be carried out: exit 1. */
export class FailureError extends MikrotikTailscaleError {
  readonly exitCode = 1;
}

/** A required host tool is missing or too old. */
export class MissingToolError extends FailureError {
  constructor(
    readonly tool: string,
    detail: string,
    readonly installHint?: string,
  ) {
    super(`${tool}: ${detail}${installHint ? ` (install with: ${installHint})` : ""}`);
  }
}

/** A pinned input did not match its recorded hash. */
export class IntegrityError extends FailureError {}

/** A subprocess failed. Keeps the tail of its output for the message. */
export class CommandError extends FailureError {
  constructor(
    readonly command: string,
    readonly exitStatus: number | null,
    readonly outputTail: string,
  ) {
    super(
      `command failed (${exitStatus === null ? "killed" : `exit ${exitStatus}`}): ${command}` +
        (outputTail ? `\n${outputTail}` : ""),
    );
  }
}

/** A file given to us is not what it claims to be (image, config, ...). */
export class InvalidInputError extends FailureError {}
