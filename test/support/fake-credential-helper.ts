import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * Writes `docker-credential-<name>` into `binDir`: a shell script speaking the
 * Docker credential helper protocol (`get`, server URL on stdin, JSON out).
 * It knows one server; every request is appended to `<binDir>/<name>.log`.
 */
export function fakeCredentialHelper(binDir: string, name: string, server: string, username: string, secret: string): string {
  mkdirSync(binDir, { recursive: true });
  const path = join(binDir, `docker-credential-${name}`);
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  writeFileSync(
    path,
    `#!/bin/sh
[ "$1" = get ] || { echo "unsupported: $1" >&2; exit 1; }
read -r url
echo "$url" >>${q(join(binDir, `${name}.log`))}
if [ "$url" = ${q(server)} ]; then
  printf '{"ServerURL":"%s","Username":"%s","Secret":"%s"}\\n' "$url" ${q(username)} ${q(secret)}
else
  echo "credentials not found in native keychain"
  exit 1
fi
`,
  );
  chmodSync(path, 0o755);
  return path;
}
