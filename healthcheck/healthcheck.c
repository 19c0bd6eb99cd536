/*
 * mikrotik-tailscale healthcheck: RouterOS's healthcheck-cmd.
 *
 * Asks tailscaled's LocalAPI over its unix socket for the backend state
 * (GET /localapi/v0/status?peers=false) and prints one line, the reason
 * RouterOS shows in healthcheck-status. Exit 0: healthy; 1: unhealthy.
 *
 *   healthy    Running (logged in, key valid, in contact with control);
 *              any state while tailscaled (PID 1) is younger than the grace
 *              period, so a slow router's start never counts against it
 *   unhealthy  no socket, no answer within the timeout (hung), NeedsLogin
 *              (logged out, or the node key expired), NeedsMachineAuth,
 *              Stopped, or Starting/NoState after the grace period (the
 *              control server was never reached)
 *
 * Why C and not `tailscale version --daemon` or `tailscale status`: every
 * run of the UPX-packed tailscale binary unpacks all of it (~0.3-0.5 s of
 * CPU and ~21 MB on amd64; bench/REPORT.md has the router VMs). This is
 * ~30 KB, static, and touches a few pages. No stdio (printf alone would
 * double its size).
 *
 * Usage: healthcheck [-b] [-s socket] [-t timeout-seconds] [-g grace-seconds]
 * The socket defaults to $TS_SOCKET, else /var/run/tailscale/tailscaled.sock.
 *
 * -b prints the backend state alone (NeedsLogin, Running, ...; no grace
 * period) and exits 0 whenever tailscaled answered with one; the entrypoint
 * polls it at start instead of `tailscale status`. With -b stdout carries
 * that word or nothing: the reason tailscaled did not answer (exit 1) goes to
 * stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_SOCKET "/var/run/tailscale/tailscaled.sock"
#define DEFAULT_TIMEOUT 5
#define DEFAULT_GRACE 90

/* The status without peers is a few KB; room for a large Self and CapMap. */
static char buf[256 * 1024];
static unsigned timeout_s = DEFAULT_TIMEOUT;
/* Where the line goes: stdout, or stderr with -b. */
static int msg_fd = 1;

static void out(const char *s) { (void)!write(msg_fd, s, strlen(s)); }

static void say4(const char *a, const char *b, const char *c, const char *d) {
	char line[512];
	size_t n = 0;
	const char *parts[4] = {a, b, c, d};
	for (int i = 0; i < 4; i++) {
		for (const char *p = parts[i]; p && *p && n < sizeof line - 2; p++) {
			/* One line: RouterOS shows it as it is. */
			line[n++] = (*p == '\n' || *p == '\r' || *p == '\t') ? ' ' : *p;
		}
	}
	line[n++] = '\n';
	(void)!write(msg_fd, line, n);
}

static void say(const char *a, const char *b, const char *c) { say4(a, b, c, 0); }

static void utoa(unsigned long v, char *s) {
	char t[24];
	int n = 0;
	do t[n++] = (char)('0' + v % 10); while ((v /= 10) && n < 23);
	while (n) *s++ = t[--n];
	*s = 0;
}

static void on_alarm(int sig) {
	char n[24];
	(void)sig;
	utoa(timeout_s, n);
	out("tailscaled not answering (no reply within ");
	out(n);
	out("s)\n");
	_exit(1);
}

static long parse_uint(const char *s) {
	long v = 0;
	if (!s || !*s) return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > 100000000) return -1;
		v = v * 10 + (*s - '0');
	}
	return v;
}

/* Seconds since PID 1 (tailscaled, the container's main process) started; -1 if unknown. */
static long pid1_age(void) {
	char b[1024];
	int fd = open("/proc/uptime", O_RDONLY);
	if (fd < 0) return -1;
	ssize_t n = read(fd, b, sizeof b - 1);
	close(fd);
	if (n <= 0) return -1;
	b[n] = 0;
	long up = strtol(b, NULL, 10);
	fd = open("/proc/1/stat", O_RDONLY);
	if (fd < 0) return -1;
	n = read(fd, b, sizeof b - 1);
	close(fd);
	if (n <= 0) return -1;
	b[n] = 0;
	/* Field 22 (starttime, clock ticks), counted after the ")" that ends comm. */
	char *p = strrchr(b, ')');
	if (!p) return -1;
	for (int field = 2; field < 22; field++) {
		p = strchr(p + 1, ' ');
		if (!p) return -1;
	}
	long ticks = sysconf(_SC_CLK_TCK);
	if (ticks <= 0) return -1;
	long start = strtol(p + 1, NULL, 10) / ticks;
	return up >= start ? up - start : 0;
}

static int hexval(char c) {
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

/* Copies the JSON string that starts after the opening quote at q into v;
 * escapes undone for ASCII (Go writes <, > and & as \u003c and so on). */
static void json_copy(const char *q, char *v, size_t vlen) {
	size_t n = 0;
	while (*q && *q != '"' && n < vlen - 1) {
		char c = *q++;
		if (c == '\\' && *q) {
			c = *q++;
			if (c == 'u') {
				int h[4], ok = 1;
				for (int i = 0; i < 4 && ok; i++) ok = (h[i] = hexval(q[i])) >= 0;
				if (ok) {
					int cp = h[0] << 12 | h[1] << 8 | h[2] << 4 | h[3];
					c = cp < 0x80 ? (char)cp : '?';
					q += 4;
				}
			} else if (c == 'n' || c == 't' || c == 'r') {
				c = ' ';
			}
		}
		v[n++] = c;
	}
	v[n] = 0;
}

/* The JSON string value of the first "key" at or after p (copied into v). */
static int json_str(const char *p, const char *key, char *v, size_t vlen) {
	char k[64];
	size_t kl = strlen(key);
	if (kl + 3 > sizeof k) return 0;
	k[0] = '"';
	memcpy(k + 1, key, kl);
	k[kl + 1] = '"';
	k[kl + 2] = 0;
	const char *q = strstr(p, k);
	if (!q) return 0;
	q += kl + 2;
	while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r' || *q == ':') q++;
	if (*q != '"') return 0;
	json_copy(q + 1, v, vlen);
	return 1;
}

/* The first message in "Health": [...], if any. */
static int first_health(const char *body, char *v, size_t vlen) {
	const char *q = strstr(body, "\"Health\"");
	if (!q) return 0;
	q = strchr(q, ':');
	if (!q) return 0;
	while (*++q == ' ' || *q == '\t' || *q == '\n' || *q == '\r') {}
	if (*q != '[') return 0;
	while (*++q == ' ' || *q == '\t' || *q == '\n' || *q == '\r') {}
	if (*q != '"') return 0;
	json_copy(q + 1, v, vlen);
	return v[0] != 0;
}

/* "2026-12-02T17:00:00Z" (or with a numeric offset) in the past? */
static int expired(const char *t) {
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	const char *e = strptime(t, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!e) return 0;
	time_t when = timegm(&tm);
	while (*e == '.' || (*e >= '0' && *e <= '9')) e++;
	if ((*e == '+' || *e == '-') && strlen(e) >= 6) {
		long off = ((e[1] - '0') * 10 + (e[2] - '0')) * 3600 + ((e[4] - '0') * 10 + (e[5] - '0')) * 60;
		when += *e == '+' ? -off : off;
	}
	return when < time(NULL);
}

static void usage(void) {
	out("usage: healthcheck [-b] [-s socket] [-t timeout-seconds] [-g grace-seconds]\n");
	_exit(2);
}

int main(int argc, char **argv) {
	const char *sock = getenv("TS_SOCKET");
	long grace = DEFAULT_GRACE;
	int state_only = 0;
	if (!sock || !*sock) sock = DEFAULT_SOCKET;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-b")) { state_only = 1; msg_fd = 2; continue; }
		if (i + 1 >= argc) usage();
		long v = -1;
		if (!strcmp(argv[i], "-s")) sock = argv[++i];
		else if (!strcmp(argv[i], "-t") && (v = parse_uint(argv[++i])) > 0) timeout_s = (unsigned)v;
		else if (!strcmp(argv[i], "-g") && (v = parse_uint(argv[i + 1])) >= 0) { grace = v; i++; }
		else usage();
	}

	long age = state_only ? -1 : pid1_age();
	int starting = age >= 0 && age < grace;

	signal(SIGALRM, on_alarm);
	alarm(timeout_s);

	struct sockaddr_un sa;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	if (strlen(sock) >= sizeof sa.sun_path) { say("socket path too long: ", sock, 0); return 2; }
	strcpy(sa.sun_path, sock);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) { say("cannot create a socket: ", strerror(errno), 0); return 1; }
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int err = errno;
		if (starting) { say("starting: tailscaled not answering yet (", strerror(err), ")"); return 0; }
		say(err == ENOENT ? "tailscaled not running (no socket " : "tailscaled not answering (", err == ENOENT ? sock : strerror(err), ")");
		return 1;
	}
	static const char req[] = "GET /localapi/v0/status?peers=false HTTP/1.0\r\nHost: local-tailscaled.sock\r\n\r\n";
	if (write(fd, req, sizeof req - 1) != (ssize_t)(sizeof req - 1)) { say("tailscaled not answering (", strerror(errno), ")"); return 1; }
	size_t len = 0;
	for (;;) {
		ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
		if (n < 0 && errno == EINTR) continue;
		if (n <= 0) break;
		len += (size_t)n;
		if (len == sizeof buf - 1) break;
	}
	alarm(0);
	buf[len] = 0;

	/* "HTTP/1.x 200 ..." */
	if (len < 12 || strncmp(buf, "HTTP/1.", 7) != 0) { say("tailscaled not answering (no HTTP reply)", 0, 0); return 1; }
	if (strncmp(buf + 9, "200", 3) != 0) {
		char *eol = strpbrk(buf, "\r\n");
		if (eol) *eol = 0;
		say("tailscaled LocalAPI refused the status request: ", buf + 9, 0);
		return 1;
	}
	char *body = strstr(buf, "\r\n\r\n");
	body = body ? body + 4 : buf;

	char state[32], health[200], when[64];
	if (!json_str(body, "BackendState", state, sizeof state)) { say("tailscaled answered without a backend state", 0, 0); return 1; }
	if (state_only) { msg_fd = 1; say(state, 0, 0); return 0; }
	if (!strcmp(state, "Running")) { out("Running\n"); return 0; }

	const char *why = 0;
	health[0] = 0;
	if (!strcmp(state, "NeedsLogin")) {
		const char *self = strstr(body, "\"Self\"");
		if (self && json_str(self, "KeyExpiry", when, sizeof when) && expired(when)) why = "node key expired";
		else if (strstr(body, "\"HaveNodeKey\": true") || strstr(body, "\"HaveNodeKey\":true")) why = "login not completed";
		else why = "not logged in";
	} else if (!strcmp(state, "NeedsMachineAuth")) {
		why = "waiting for approval in the admin console";
	} else if (!strcmp(state, "Stopped")) {
		why = "stopped (tailscale down)";
	} else if (!strcmp(state, "Starting") || !strcmp(state, "NoState")) {
		why = first_health(body, health, sizeof health) ? health : "control server not reached yet";
	} else {
		why = first_health(body, health, sizeof health) ? health : "not running";
	}
	if (starting) { say4("starting: ", state, ": ", why); return 0; }
	say(state, ": ", why);
	return 1;
}
