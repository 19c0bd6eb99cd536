import { FailureError, InvalidInputError, MikrotikTailscaleError, UsageError } from "../errors.js";

/** The router config file is invalid: nothing was sent to a router. */
export class ConfigError extends InvalidInputError {}

/** Something about the target router makes the config unusable (wrong arch, version, mode). */
export class RouterMismatchError extends FailureError {}

/** The router could not be reached at all (refused, timed out, DNS). */
export class RouterUnreachableError extends FailureError {}

/** The router's TLS certificate was not trusted. */
export class RouterTlsError extends FailureError {}

/** The router refused our user name or password. */
export class RouterAuthError extends FailureError {}

/** The REST API answered with an error status. */
export class RouterApiError extends FailureError {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly detail: string,
  ) {
    super(`router said ${status} to ${method} ${path}: ${detail}`);
  }
}

/** The REST API answered, but not with the shape it always has (a list of records, or one record). */
export class RouterReplyError extends FailureError {
  constructor(
    readonly method: string,
    readonly path: string,
    detail: string,
  ) {
    super(`unexpected answer from the router to ${method} ${path}: ${detail}`);
  }
}

/** A container did not reach the state we waited for. */
export class ContainerStateError extends FailureError {}

/** An upgrade failed and the previous container was put back. */
export class UpgradeRolledBackError extends FailureError {}

/** Credentials were given in a way we refuse (on the command line, in the URL). */
export class CredentialsUsageError extends UsageError {}

/** Ctrl-C (or a fleet's per-router deadline) while waiting on the router: what it was doing goes on without us (exit 130, as for SIGINT). */
export class InterruptedError extends MikrotikTailscaleError {
  readonly exitCode = 130;
}

/** Interrupted while the router carries out a swap: it finishes or undoes it on its own. */
export class SwapInterruptedError extends InterruptedError {}
