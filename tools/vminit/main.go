// Command vminit is PID 1 of the end-to-end tests' router VMs (see
// test/support/vm.ts). It does for the image what RouterOS does for a
// container, on a real ARM kernel: mounts /proc, /sys, /dev and tmpfs for the
// socket directory, mounts the persistent state volume (9p), loads the kernel
// modules the initramfs carries, sets up the network, and starts the image's
// entrypoint with the container's environment as PID 1 of its own PID
// namespace. A virtio serial port carries requests from the host: run a
// command (like `/container/shell`), or stop the container with SIGTERM as
// RouterOS does, after which the VM powers off.
//
// Only the standard library: the binary is cross-built for arm64 and arm by
// the test harness and must not need the module cache.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// Config is /vm/config.json, written by the harness for each VM.
type Config struct {
	Hostname string            `json:"hostname"`
	Argv     []string          `json:"argv"`
	Env      []string          `json:"env"`
	Modules  []string          `json:"modules"`
	Network  []string          `json:"network"`
	Files    map[string]string `json:"files"`
	// StateTag is the 9p mount tag of the state volume, mounted at StateDir.
	StateTag string `json:"stateTag"`
	StateDir string `json:"stateDir"`
}

type request struct {
	ID        int      `json:"id"`
	Op        string   `json:"op"`
	Argv      []string `json:"argv,omitempty"`
	TimeoutMs int      `json:"timeoutMs,omitempty"`
}

type reply struct {
	ID     int    `json:"id"`
	Op     string `json:"op"`
	Code   int    `json:"code"`
	Stdout string `json:"stdout,omitempty"`
	Stderr string `json:"stderr,omitempty"`
	Ms     int64  `json:"ms,omitempty"`
	Error  string `json:"error,omitempty"`
}

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "vm-init: "+format+"\n", a...)
}

func main() {
	if err := run(); err != nil {
		logf("error: %v", err)
	}
	powerOff()
}

func mount(src, dst, fstype, data string, flags uintptr) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	if err := syscall.Mount(src, dst, fstype, flags, data); err != nil {
		return fmt.Errorf("mount %s on %s (%s): %w", src, dst, fstype, err)
	}
	return nil
}

func loadModule(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	params := []byte{0}
	_, _, e := syscall.Syscall(syscall.SYS_INIT_MODULE, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(unsafe.Pointer(&params[0])))
	if e != 0 && e != syscall.EEXIST {
		return fmt.Errorf("init_module %s: %w", filepath.Base(path), e)
	}
	return nil
}

func run() error {
	nosuid := uintptr(syscall.MS_NOSUID | syscall.MS_NODEV)
	for _, m := range []struct{ src, dst, fs, data string }{
		{"proc", "/proc", "proc", ""},
		{"sysfs", "/sys", "sysfs", ""},
		{"devtmpfs", "/dev", "devtmpfs", ""},
	} {
		flags := nosuid
		if m.fs == "devtmpfs" {
			flags = syscall.MS_NOSUID // device nodes must work here
		}
		if err := mount(m.src, m.dst, m.fs, m.data, flags); err != nil {
			return err
		}
	}
	_ = mount("devpts", "/dev/pts", "devpts", "newinstance,ptmxmode=0666", nosuid)
	if err := mount("tmpfs", "/var/run/tailscale", "tmpfs", "mode=755,size=1024k", nosuid); err != nil {
		return err
	}
	if err := mount("tmpfs", "/tmp", "tmpfs", "mode=1777", nosuid); err != nil {
		return err
	}
	raw, err := os.ReadFile("/vm/config.json")
	if err != nil {
		return err
	}
	var cfg Config
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return fmt.Errorf("/vm/config.json: %w", err)
	}
	// exec.Command looks programs up in our own PATH: make it the container's.
	for _, kv := range cfg.Env {
		if strings.HasPrefix(kv, "PATH=") {
			os.Setenv("PATH", kv[5:])
		}
	}
	for _, m := range cfg.Modules {
		if err := loadModule(m); err != nil {
			return err
		}
	}
	if cfg.Hostname != "" {
		_ = syscall.Sethostname([]byte(cfg.Hostname))
	}
	for p, content := range cfg.Files {
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return err
		}
	}
	if cfg.StateTag != "" {
		if err := mount(cfg.StateTag, cfg.StateDir, "9p", "trans=virtio,version=9p2000.L,msize=262144,cache=none", 0); err != nil {
			return err
		}
	}
	for _, line := range cfg.Network {
		out, err := exec.Command("/bin/sh", "-c", line).CombinedOutput()
		if err != nil {
			return fmt.Errorf("network: %q: %v: %s", line, err, bytes.TrimSpace(out))
		}
	}

	port, err := controlPort()
	if err != nil {
		return err
	}
	ctl, err := os.OpenFile(port, os.O_RDWR, 0)
	if err != nil {
		return err
	}

	// The container: the image's entrypoint as PID 1 of a new PID namespace,
	// so SIGTERM reaches it the way it does under RouterOS (an init of a PID
	// namespace only gets the signals it handles).
	ct := exec.Command(cfg.Argv[0], cfg.Argv[1:]...)
	ct.Env = cfg.Env
	ct.Dir = "/"
	ct.Stdout = os.Stdout
	ct.Stderr = os.Stderr
	ct.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID}
	// Its own memory cgroup, as a container engine gives it: the bench reads
	// and reclaims the container's memory there.
	if fd, err := containerCgroup(); err != nil {
		logf("no memory cgroup for the container: %v", err)
	} else {
		ct.SysProcAttr.UseCgroupFD = true
		ct.SysProcAttr.CgroupFD = fd
	}
	if err := ct.Start(); err != nil {
		return fmt.Errorf("starting %v: %w", cfg.Argv, err)
	}
	logf("started %s (pid %d)", strings.Join(cfg.Argv, " "), ct.Process.Pid)

	var wmu sync.Mutex
	send := func(r reply) {
		b, _ := json.Marshal(r)
		wmu.Lock()
		defer wmu.Unlock()
		_, _ = ctl.Write(append(b, '\n'))
	}
	done := make(chan int, 1)
	go func() {
		_ = ct.Wait()
		code := ct.ProcessState.ExitCode()
		if ws, ok := ct.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
		done <- code
	}()

	stopReq := make(chan int, 1)
	go func() {
		sc := bufio.NewScanner(ctl)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var q request
			if err := json.Unmarshal(sc.Bytes(), &q); err != nil {
				send(reply{Op: "error", Error: err.Error()})
				continue
			}
			switch q.Op {
			case "exec":
				go func(q request) { send(execute(q, cfg.Env)) }(q)
			case "stop":
				stopReq <- q.ID
			default:
				send(reply{ID: q.ID, Op: q.Op, Error: "unknown op"})
			}
		}
	}()
	send(reply{Op: "ready"})

	select {
	case code := <-done:
		logf("container exited with code %d", code)
		send(reply{Op: "exited", Code: code})
	case id := <-stopReq:
		t0 := time.Now()
		_ = ct.Process.Signal(syscall.SIGTERM)
		code := <-done
		ms := time.Since(t0).Milliseconds()
		logf("container exited with code %d, %d ms after SIGTERM", code, ms)
		send(reply{ID: id, Op: "stopped", Code: code, Ms: ms})
	}
	syscall.Sync()
	if cfg.StateTag != "" {
		_ = syscall.Unmount(cfg.StateDir, 0)
	}
	return nil
}

// containerCgroup makes /sys/fs/cgroup/container with the memory controller
// and returns a descriptor of it for clone3(CLONE_INTO_CGROUP).
func containerCgroup() (int, error) {
	if err := mount("cgroup2", "/sys/fs/cgroup", "cgroup2", "", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC); err != nil {
		return -1, err
	}
	if err := os.WriteFile("/sys/fs/cgroup/cgroup.subtree_control", []byte("+memory"), 0); err != nil {
		return -1, err
	}
	if err := os.MkdirAll("/sys/fs/cgroup/container", 0o755); err != nil {
		return -1, err
	}
	return syscall.Open("/sys/fs/cgroup/container", syscall.O_DIRECTORY|syscall.O_RDONLY, 0)
}

// controlPort finds the virtio serial port the harness named "mt.ctl".
func controlPort() (string, error) {
	for i := 0; i < 50; i++ {
		names, _ := filepath.Glob("/sys/class/virtio-ports/*/name")
		for _, n := range names {
			b, _ := os.ReadFile(n)
			if strings.TrimSpace(string(b)) == "mt.ctl" {
				return "/dev/" + filepath.Base(filepath.Dir(n)), nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return "", fmt.Errorf("no virtio serial port named mt.ctl")
}

// execute runs one command like `/container/shell` would, with the
// container's environment and a hard time limit.
func execute(q request, env []string) reply {
	if len(q.Argv) == 0 {
		return reply{ID: q.ID, Op: "exec", Code: 127, Error: "empty argv"}
	}
	limit := time.Duration(q.TimeoutMs) * time.Millisecond
	if limit <= 0 {
		limit = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	c := exec.CommandContext(ctx, q.Argv[0], q.Argv[1:]...)
	c.Env = env
	c.Dir = "/"
	var out, errb bytes.Buffer
	c.Stdout = &out
	c.Stderr = &errb
	err := c.Run()
	r := reply{ID: q.ID, Op: "exec", Stdout: out.String(), Stderr: errb.String()}
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			r.Code = ee.ExitCode()
			if r.Code < 0 {
				r.Code = 137
			}
		} else {
			r.Code = 127
			r.Stderr += err.Error()
		}
	}
	return r
}

func powerOff() {
	syscall.Sync()
	_ = syscall.Reboot(syscall.LINUX_REBOOT_CMD_POWER_OFF)
	// Reboot only returns on failure; PID 1 exiting panics the kernel,
	// and panic=-1 with qemu's -no-reboot ends the VM too.
	os.Exit(1)
}
