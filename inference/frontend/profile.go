package frontend

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/radixops/radix/config"
	"github.com/radixops/radix/inference/telemetry"
)

// ProfileOptions configure RunProfile.
type ProfileOptions struct {
	Profile   string
	Model     string            // model directory or .gguf every worker serves (required)
	Binary    string            // the radix executable the children run
	Namespace string            // default: the profile's deployment name
	Overrides map[string]string // profile keys, as `radix deploy --set` takes them
	// ExtraArgs are appended to every child's `radix serve` arguments of that role ("frontend",
	// "worker", ...): tests shorten leases and heartbeats with them.
	ExtraArgs map[string][]string
	Stdout    io.Writer // the frontend URL is printed here once it is healthy
	Log       io.Writer // children's output, each line prefixed with its name
	// Ready, when set, is called with the frontend URL once /health answers 200.
	Ready func(url string)
}

// Child is one process of a running profile.
type Child struct {
	Name, Role string
	Args       []string
	Port       int
	cmd        *exec.Cmd
	done       chan struct{} // closed once the child has exited and been reaped
}

// RunProfile starts a profile's processes (config.LocalPlan) on free loopback ports as children of
// this process, prints the frontend URL once it is healthy, and stays until ctx ends; then it stops the
// children (SIGTERM, then SIGKILL after 10 s). Children also die with this process (Pdeathsig on Linux).
func RunProfile(ctx context.Context, o ProfileOptions) error {
	if o.Model == "" {
		return errors.New("serve --profile: --model is required")
	}
	model, err := filepath.Abs(o.Model)
	if err != nil {
		return err
	}
	spec, err := config.Resolve(o.Profile, o.Overrides)
	if err != nil {
		return fmt.Errorf("serve --profile: %w", err)
	}
	ns := o.Namespace
	if ns == "" || ns == "dynamo" {
		ns = spec.Name()
	}
	children, url, err := planChildren(config.LocalPlan(spec), model, ns, o.ExtraArgs)
	if err != nil {
		return fmt.Errorf("serve --profile: %w", err)
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	var logMu sync.Mutex
	var wg sync.WaitGroup
	exited := make(chan string, len(children))
	defer func() {
		stopChildren(children)
		wg.Wait()
	}()
	for _, c := range children {
		cmd := exec.Command(o.Binary, c.Args...)
		cmd.Env = append(os.Environ(), "DYNAMO_NAMESPACE="+ns)
		cmd.SysProcAttr = childAttr()
		out, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		cmd.Stderr = cmd.Stdout
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("serve --profile: starting %s: %w", c.Name, err)
		}
		c.cmd, c.done = cmd, make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc := bufio.NewScanner(out)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				logMu.Lock()
				fmt.Fprintf(o.Log, "[%s] %s\n", c.Name, sc.Text())
				logMu.Unlock()
			}
			err := cmd.Wait()
			close(c.done)
			exited <- fmt.Sprintf("%s exited: %v", c.Name, err)
		}()
	}
	if err := waitHealthy(ctx, url, exited); err != nil {
		return fmt.Errorf("serve --profile %s: %w", o.Profile, err)
	}
	if o.Stdout != nil {
		fmt.Fprintf(o.Stdout, "%s\n", url)
	}
	if o.Ready != nil {
		o.Ready(url)
	}
	select {
	case <-ctx.Done():
		return nil
	case msg := <-exited:
		return fmt.Errorf("serve --profile %s: %s", o.Profile, msg)
	}
}

func planChildren(plan []config.LocalProcess, model, ns string, extra map[string][]string) ([]*Child, string, error) {
	var out []*Child
	url := ""
	for _, p := range plan {
		for r := range p.Replicas {
			port, err := freePort()
			if err != nil {
				return nil, "", err
			}
			c := &Child{Name: fmt.Sprintf("%s-%d", strings.ToLower(p.Service), r), Role: p.Role, Port: port}
			c.Args = append([]string{"serve"}, p.Args...)
			c.Args = append(c.Args, "--host", "127.0.0.1", "--port", strconv.Itoa(port), "--namespace", ns)
			if p.Role == config.RoleFrontend {
				url = fmt.Sprintf("http://127.0.0.1:%d", port)
			} else {
				if p.Role == "prefill" || p.Role == "decode" {
					tp, err := freePort()
					if err != nil {
						return nil, "", err
					}
					c.Args = append(c.Args, "--transfer-port", strconv.Itoa(tp))
				}
				c.Args = append(c.Args, "--model", model)
			}
			c.Args = append(c.Args, extra[p.Role]...)
			out = append(out, c)
		}
	}
	if url == "" {
		return nil, "", errors.New("the profile has no frontend")
	}
	for _, c := range out {
		if c.Role != config.RoleFrontend {
			c.Args = append(c.Args, "--frontend", url)
		}
	}
	return out, url, nil
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func waitHealthy(ctx context.Context, url string, exited <-chan string) error {
	c := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := c.Get(url + "/health")
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			if ready, _ := telemetry.ReadHealth(resp.StatusCode, body); ready {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case msg := <-exited:
			return errors.New(msg)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// stopChildren sends SIGTERM to every child, waits up to 10 s, then SIGKILLs what is left.
func stopChildren(cs []*Child) {
	for _, c := range cs {
		if c.cmd != nil && c.cmd.Process != nil {
			_ = c.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	grace := time.NewTimer(10 * time.Second)
	defer grace.Stop()
	expired := false
	for _, c := range cs {
		if c.cmd == nil || c.cmd.Process == nil {
			continue
		}
		if !expired {
			select {
			case <-c.done:
				continue
			case <-grace.C:
				expired = true
			}
		}
		_ = c.cmd.Process.Kill() // past the grace period: whatever is left goes now
	}
}
