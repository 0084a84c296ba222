package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisOptions tune the managed redis-server.
type RedisOptions struct {
	// Binary is the redis-server executable, looked up in PATH; default "redis-server".
	Binary string
	// Port is the loopback port to use; 0 means the previous start's port when it is free, else any
	// free port.
	Port int
	// StartTimeout bounds the wait for the first PING answer (loading a large AOF takes a while);
	// default 30 s.
	StartTimeout time.Duration
	// StopTimeout bounds the wait for a clean SHUTDOWN before the child is killed; default 10 s.
	StopTimeout time.Duration
	// Logger receives start, stop and recovery messages; default slog.Default().
	Logger *slog.Logger
}

// RedisServer is a redis-server child owned by this process, or, when another pilmon process
// already runs one on the same data dir, a connection to that one.
//
// Files under <dataDir>/redis/: password (0600, created once and reused), redis.conf (0600,
// rewritten at each start: the password must not appear on a command line), redis.log (the
// server's output), redis.lock (flock held by the owning process), redis.pid ("pid port" while
// running), redis.port (the last port, preferred at the next start), appendonlydir/ (the AOF,
// which is the durability: appendfsync everysec, no RDB snapshots).
type RedisServer struct {
	dir      string
	port     int
	password string
	owned    bool
	pid      int
	cmd      *exec.Cmd
	done     chan struct{} // closed when the owned process has exited
	lock     *os.File
	logFile  *os.File
	client   *redis.Client
	log      *slog.Logger
	stopWait time.Duration

	stopOnce sync.Once
	stopErr  error
}

// ErrRedisNotFound is returned (wrapped) when redis-server is not installed.
var ErrRedisNotFound = errors.New("redis-server not found in PATH: install it (apt-get install redis-server) or pass --redis URL")

// StartRedis starts redis-server as a child bound to 127.0.0.1 with its data under
// <dataDir>/redis, or connects to the one another pilmon process already runs there, and waits
// until it answers PING. Stop it with Stop.
func StartRedis(ctx context.Context, dataDir string, opts RedisOptions) (*RedisServer, error) {
	if opts.Binary == "" {
		opts.Binary = "redis-server"
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 30 * time.Second
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, fmt.Errorf("data dir %s: %w", dataDir, err)
	}
	dir := filepath.Join(abs, "redis")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create redis data dir: %w", err)
	}
	password, err := loadOrCreatePassword(filepath.Join(dir, "password"))
	if err != nil {
		return nil, err
	}
	s := &RedisServer{dir: dir, password: password, log: opts.Logger, stopWait: opts.StopTimeout}

	lock, held, err := lockDataDir(filepath.Join(dir, "redis.lock"))
	if err != nil {
		return nil, err
	}
	if held {
		// Another pilmon process owns this data dir: share its server.
		return s, s.attach(ctx, opts.StartTimeout)
	}
	s.lock = lock
	s.owned = true

	if pid, port, ok := readPidFile(filepath.Join(dir, "redis.pid")); ok && processAlive(pid) && isRedisIn(pid, dir) {
		// A server from a previous pilmon that died without stopping it (no parent-death signal on
		// this platform, or the signal was lost): adopt it rather than start a second server
		// writing the same AOF.
		s.pid, s.port = pid, port
		s.client = s.newClient()
		if err := s.waitReady(ctx, opts.StartTimeout, nil); err != nil {
			s.release()
			return nil, fmt.Errorf("redis-server pid %d from a previous run still uses %s but does not answer (%v); stop it and retry", pid, dir, err)
		}
		s.log.Info("adopted running redis-server 已接管运行中的 redis-server", "pid", pid, "port", port, "dir", dir)
		return s, nil
	}

	bin, err := exec.LookPath(opts.Binary)
	if err != nil {
		s.release()
		return nil, fmt.Errorf("%w (looked for %q)", ErrRedisNotFound, opts.Binary)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port := opts.Port
		if port == 0 {
			port = s.pickPort()
		}
		if port == 0 {
			lastErr = errors.New("no free loopback port")
			break
		}
		lastErr = s.start(ctx, bin, port, opts.StartTimeout)
		if lastErr == nil {
			s.log.Info("redis-server started 已启动", "pid", s.pid, "port", s.port, "dir", dir)
			return s, nil
		}
		// Another program may have taken the port between our probe and redis-server's bind.
		if opts.Port != 0 || !strings.Contains(lastErr.Error(), "in use") {
			break
		}
	}
	s.release()
	return nil, lastErr
}

func (s *RedisServer) newClient() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: s.Addr(), Password: s.password, DialTimeout: 2 * time.Second})
}

// pickPort returns the previous start's port when it is free, else any free loopback port.
func (s *RedisServer) pickPort() int {
	if b, err := os.ReadFile(filepath.Join(s.dir, "redis.port")); err == nil {
		if p, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && p > 0 && p < 65536 && portFree(p) {
			return p
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func portFree(p int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

func (s *RedisServer) start(ctx context.Context, bin string, port int, timeout time.Duration) error {
	conf := strings.Join([]string{
		"bind 127.0.0.1",
		"port " + strconv.Itoa(port),
		"protected-mode yes",
		"requirepass " + s.password,
		// The child runs in the data dir; "." keeps paths with spaces or quotes out of the config.
		"dir .",
		"appendonly yes",
		"appendfsync everysec",
		`save ""`,
		"daemonize no",
		`logfile ""`,
		"",
	}, "\n")
	if err := writeFile0600(filepath.Join(s.dir, "redis.conf"), []byte(conf)); err != nil {
		return err
	}
	logPath := filepath.Join(s.dir, "redis.log")
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("redis log: %w", err)
	}
	logStart, _ := lf.Seek(0, io.SeekEnd)
	fmt.Fprintf(lf, "--- pilmon starting redis-server on 127.0.0.1:%d at %s\n", port, time.Now().UTC().Format(time.RFC3339))
	cmd := exec.Command(bin, "redis.conf")
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = childSysProcAttr()
	if err := cmd.Start(); err != nil {
		lf.Close()
		return fmt.Errorf("start %s: %w", bin, err)
	}
	s.cmd, s.pid, s.port, s.logFile = cmd, cmd.Process.Pid, port, lf
	s.done = make(chan struct{})
	go func() { _ = cmd.Wait(); close(s.done) }()
	s.client = s.newClient()
	if err := s.waitReady(ctx, timeout, s.done); err != nil {
		_ = cmd.Process.Kill()
		<-s.done
		s.client.Close()
		lf.Close()
		s.cmd, s.logFile, s.client = nil, nil, nil
		return fmt.Errorf("redis-server on 127.0.0.1:%d: %w; log %s:\n%s", port, err, logPath, logTail(logPath, logStart))
	}
	if err := writeFile0600(filepath.Join(s.dir, "redis.pid"), fmt.Appendf(nil, "%d %d\n", s.pid, port)); err != nil {
		return err
	}
	return writeFile0600(filepath.Join(s.dir, "redis.port"), fmt.Appendf(nil, "%d\n", port))
}

// waitReady polls PING until it answers, the process exits (exited != nil) or timeout passes.
// LOADING replies (a large AOF being read) keep it waiting.
func (s *RedisServer) waitReady(ctx context.Context, timeout time.Duration, exited <-chan struct{}) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		// A plain dial first: the client would log every refused connection while Redis starts.
		var conn net.Conn
		if conn, last = net.DialTimeout("tcp", s.Addr(), 500*time.Millisecond); last == nil {
			conn.Close()
			pctx, cancel := context.WithTimeout(ctx, time.Second)
			last = s.client.Ping(pctx).Err()
			cancel()
			if last == nil {
				return checkServerVersion(ctx, s.client, s.Addr())
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer to PING within %s: %w", timeout, last)
		}
		select {
		case <-exited:
			return errors.New("redis-server exited during start")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// attach connects to the server the owning pilmon process runs on this data dir.
func (s *RedisServer) attach(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	pidPath := filepath.Join(s.dir, "redis.pid")
	for {
		if pid, port, ok := readPidFile(pidPath); ok {
			s.pid, s.port = pid, port
			s.client = s.newClient()
			pctx, cancel := context.WithTimeout(ctx, time.Second)
			err := s.client.Ping(pctx).Err()
			cancel()
			if err == nil {
				s.log.Info("using the redis-server of another pilmon process 使用另一 pilmon 进程的 redis-server", "port", port, "dir", s.dir)
				return nil
			}
			s.client.Close()
			s.client = nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("data dir %s is locked by another pilmon process, but its redis-server (see %s) does not answer within %s; stop that process or pass --redis URL", s.dir, pidPath, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Addr is host:port of the server.
func (s *RedisServer) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Port is the server's loopback port.
func (s *RedisServer) Port() int { return s.port }

// Password is the server's requirepass.
func (s *RedisServer) Password() string { return s.password }

// Owned reports whether this process started (or adopted) the server and will shut it down.
func (s *RedisServer) Owned() bool { return s.owned }

// URL is the redis:// URL of the server for other pilmon processes (workers). It contains the
// password: do not log it.
func (s *RedisServer) URL() string { return "redis://:" + s.password + "@" + s.Addr() + "/0" }

// Client returns the server's client; it is closed by Stop and Kill.
func (s *RedisServer) Client() *redis.Client { return s.client }

// Stop shuts the server down cleanly (SHUTDOWN flushes the AOF), waits for it to exit, and kills it
// when it has not exited within the stop timeout or when ctx ends. For a server owned by another
// pilmon process it only closes the connection. Stop is idempotent.
func (s *RedisServer) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() { s.stopErr = s.stop(ctx) })
	return s.stopErr
}

func (s *RedisServer) stop(ctx context.Context) error {
	if !s.owned {
		if s.client != nil {
			return s.client.Close()
		}
		return nil
	}
	defer s.release()
	sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	// The server closes the connection as it exits, so an error here is the normal outcome; a
	// one-off client without retries keeps the main client from redialling a server going away.
	once := redis.NewClient(&redis.Options{Addr: s.Addr(), Password: s.password, MaxRetries: -1, DialerRetries: 1, PoolSize: 1})
	_ = once.Shutdown(sctx).Err()
	once.Close()
	cancel()
	timer := time.NewTimer(s.stopWait)
	defer timer.Stop()
	select {
	case <-s.exited():
		_ = os.Remove(filepath.Join(s.dir, "redis.pid"))
		s.log.Info("redis-server stopped 已停止", "pid", s.pid)
		return nil
	case <-timer.C:
	case <-ctx.Done():
	}
	s.log.Warn("redis-server did not exit after SHUTDOWN; killing it 未能正常退出，强制结束", "pid", s.pid)
	s.signalKill()
	<-s.exited()
	_ = os.Remove(filepath.Join(s.dir, "redis.pid"))
	return fmt.Errorf("redis-server pid %d did not shut down within %s and was killed", s.pid, s.stopWait)
}

// Kill sends SIGKILL to the server and waits for it to die, then releases the data dir as a
// crashed pilmon would. It exists for crash tests; the AOF keeps what was fsynced.
func (s *RedisServer) Kill() error {
	if !s.owned {
		return errors.New("redis-server is owned by another pilmon process")
	}
	s.stopOnce.Do(func() {
		s.signalKill()
		<-s.exited()
		s.release()
		s.stopErr = errors.New("redis-server was killed")
	})
	return nil
}

// exited returns a channel closed when the server process is gone.
func (s *RedisServer) exited() <-chan struct{} {
	if s.done != nil {
		return s.done
	}
	// An adopted server is not our child: poll for it.
	ch := make(chan struct{})
	go func() {
		for processAlive(s.pid) {
			time.Sleep(20 * time.Millisecond)
		}
		close(ch)
	}()
	s.done = ch
	return ch
}

func (s *RedisServer) signalKill() {
	if s.cmd != nil {
		_ = s.cmd.Process.Kill()
		return
	}
	if p, err := os.FindProcess(s.pid); err == nil {
		_ = p.Kill()
	}
}

// release closes the client and log and drops the data dir lock.
func (s *RedisServer) release() {
	if s.client != nil {
		s.client.Close()
	}
	if s.logFile != nil {
		s.logFile.Close()
	}
	if s.lock != nil {
		unlockDataDir(s.lock)
		s.lock = nil
	}
}

// Connect returns a client for the Redis at rawURL (redis://, rediss:// or unix://) after checking
// that it answers PING and is recent enough (6.2+: XAUTOCLAIM, ZINTER). A non-empty password
// replaces the URL's, so that the URL can be given without it (command lines are visible in ps).
func Connect(ctx context.Context, rawURL, password string) (redis.UniversalClient, error) {
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redis URL: %w", err)
	}
	if password != "" {
		opt.Password = password
	}
	c := redis.NewClient(opt)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.Ping(pctx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("cannot reach redis at %s: %w", opt.Addr, err)
	}
	if err := checkServerVersion(pctx, c, opt.Addr); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func checkServerVersion(ctx context.Context, c *redis.Client, addr string) error {
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		return fmt.Errorf("redis at %s: INFO server: %w", addr, err)
	}
	for _, line := range strings.Split(info, "\n") {
		v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:")
		if !ok {
			continue
		}
		parts := strings.SplitN(v, ".", 3)
		major, _ := strconv.Atoi(parts[0])
		minor := 0
		if len(parts) > 1 {
			minor, _ = strconv.Atoi(parts[1])
		}
		if major < 6 || (major == 6 && minor < 2) {
			return fmt.Errorf("redis %s at %s is too old: pilmon needs 6.2 or newer (XAUTOCLAIM, ZINTER)", v, addr)
		}
		return nil
	}
	return nil // servers that hide their version (some proxies) are given the benefit of the doubt
}

func loadOrCreatePassword(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		pw := strings.TrimSpace(string(b))
		if len(pw) < 16 || strings.ContainsAny(pw, " \t\r\n\"'\\") {
			return "", fmt.Errorf("redis password file %s is malformed; delete it to create a new one", path)
		}
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			_ = os.Chmod(path, 0o600)
		}
		return pw, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("redis password: %w", err)
	}
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	pw := hex.EncodeToString(raw)
	if err := writeFile0600(path, []byte(pw+"\n")); err != nil {
		return "", err
	}
	return pw, nil
}

// writeFile0600 writes through a temp file and a rename so that readers never see half a file.
func writeFile0600(path string, data []byte) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			err = fmt.Errorf("write %s: %w", path, err)
		}
	}()
	if err = tmp.Chmod(0o600); err != nil {
		return err
	}
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func readPidFile(path string) (pid, port int, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, false
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, 0, false
	}
	pid, err1 := strconv.Atoi(f[0])
	port, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || pid <= 0 || port <= 0 || port > 65535 {
		return 0, 0, false
	}
	return pid, port, true
}

// logTail returns the log written since offset, at most its last 4 KiB.
func logTail(path string, offset int64) string {
	b, err := os.ReadFile(path)
	if err != nil || offset > int64(len(b)) {
		return ""
	}
	b = b[offset:]
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(bytes.TrimSpace(b))
}
