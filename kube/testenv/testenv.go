package testenv

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/radixops/radix/kube/crds"
)

// Users of the token file.
const (
	AdminUser = "radix-admin" // in system:masters
	PlainUser = "alice"       // no roles: tests grant what they need through RBAC
)

// Env is a running API server with its etcd.
type Env struct {
	Dir         string // temporary directory: certs, tokens, etcd data, logs, kubeconfigs
	Server      string // https://127.0.0.1:PORT
	CAData      []byte // PEM of the serving certificate (self-signed)
	AdminToken  string
	PlainToken  string
	Kubeconfig  string // admin kubeconfig (context "radix-test")
	PlainConfig string // unprivileged user's kubeconfig (context "radix-test-alice")

	apiserverBin, etcdBin string
	etcdURL, etcdPeer     string
	port                  int
	mu                    sync.Mutex
	etcd, api             *exec.Cmd
	apiDone               chan struct{}
}

// Binaries returns the kube-apiserver and etcd paths from the environment.
func Binaries() (apiserver, etcd string, err error) {
	apiserver, etcd = os.Getenv("RADIX_KUBE_APISERVER"), os.Getenv("RADIX_ETCD")
	if apiserver == "" || etcd == "" {
		return "", "", errors.New("RADIX_KUBE_APISERVER and RADIX_ETCD are not set: run scripts/test.sh, or " +
			"`eval \"$(scripts/testbin.sh)\"` first, to build a real kube-apiserver and etcd for the cluster tests")
	}
	for _, p := range []string{apiserver, etcd} {
		if _, err := os.Stat(p); err != nil {
			return "", "", fmt.Errorf("test binary missing (%w): rerun `eval \"$(scripts/testbin.sh)\"`", err)
		}
	}
	return apiserver, etcd, nil
}

// Require returns the binaries or ends the test: skipped under -short when they are not configured,
// failed otherwise, so CI (which runs scripts/test.sh) never silently skips the cluster tests.
func Require(t testing.TB) (apiserver, etcd string) {
	t.Helper()
	a, e, err := Binaries()
	if err != nil {
		if testing.Short() {
			t.Skip("skipping the real-API-server test in -short mode: " + err.Error())
		}
		t.Fatal(err)
	}
	return a, e
}

// Start brings up etcd and the API server in dir (created if needed) and installs the CRDs.
func Start(ctx context.Context, apiserverBin, etcdBin, dir string) (*Env, error) {
	e := &Env{Dir: dir, apiserverBin: apiserverBin, etcdBin: etcdBin, AdminToken: randHex(16), PlainToken: randHex(16)}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	if err := e.writeFiles(); err != nil {
		return nil, err
	}
	if err := e.startEtcd(ctx); err != nil {
		e.Stop()
		return nil, err
	}
	if err := e.startAPIServer(ctx, 0); err != nil {
		e.Stop()
		return nil, err
	}
	if err := e.writeKubeconfigs(); err != nil {
		e.Stop()
		return nil, err
	}
	if err := e.InstallCRDs(ctx); err != nil {
		e.Stop()
		return nil, err
	}
	return e, nil
}

// StartT is Start for a test: it requires the binaries and stops the environment at cleanup.
func StartT(t testing.TB) *Env {
	t.Helper()
	a, et := Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	e, err := Start(ctx, a, et, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Stop)
	return e
}

func (e *Env) writeFiles() error {
	certPEM, keyPEM, err := selfSignedServing()
	if err != nil {
		return err
	}
	e.CAData = certPEM
	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fmt.Errorf("generating service account key: %w", err)
	}
	saPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(saKey)})
	tokens := fmt.Sprintf("%s,%s,%s-uid,\"system:masters\"\n%s,%s,%s-uid\n",
		e.AdminToken, AdminUser, AdminUser, e.PlainToken, PlainUser, PlainUser)
	files := map[string][]byte{
		"serving.crt": certPEM, "serving.key": keyPEM, "sa.key": saPEM, "tokens.csv": []byte(tokens),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(e.Dir, name), data, 0o600); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
	}
	return nil
}

func selfSignedServing() (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generating serving key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "radix-test-apiserver"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("creating serving certificate: %w", err)
	}
	kd, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding serving key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), nil
}

func (e *Env) startEtcd(ctx context.Context) error {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		cp, pp := freePort(), freePort()
		e.etcdURL = "http://127.0.0.1:" + strconv.Itoa(cp)
		e.etcdPeer = "http://127.0.0.1:" + strconv.Itoa(pp)
		logf, err := os.Create(filepath.Join(e.Dir, "etcd.log"))
		if err != nil {
			return fmt.Errorf("creating etcd log: %w", err)
		}
		cmd := exec.Command(e.etcdBin, "--data-dir", filepath.Join(e.Dir, "etcd"),
			"--listen-client-urls", e.etcdURL, "--listen-peer-urls", e.etcdPeer)
		cmd.Stdout, cmd.Stderr = logf, logf
		setDeathSignal(cmd)
		if err := cmd.Start(); err != nil {
			logf.Close()
			return fmt.Errorf("starting etcd %s: %w", e.etcdBin, err)
		}
		e.etcd = cmd
		done := make(chan struct{})
		go func() { cmd.Wait(); logf.Close(); close(done) }()
		lastErr = waitFor(ctx, 30*time.Second, done, func() bool {
			resp, err := http.Get(e.etcdURL + "/health")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == 200
		})
		if lastErr == nil {
			return nil
		}
		kill(cmd)
		lastErr = fmt.Errorf("etcd did not become healthy: %w; log:\n%s", lastErr, tail(filepath.Join(e.Dir, "etcd.log")))
	}
	return lastErr
}

// startAPIServer starts kube-apiserver, on port when non-zero (a restart keeps its address).
func (e *Env) startAPIServer(ctx context.Context, port int) error {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		p := port
		if p == 0 {
			p = freePort()
		}
		logf, err := os.OpenFile(filepath.Join(e.Dir, "apiserver.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			return fmt.Errorf("creating apiserver log: %w", err)
		}
		cmd := exec.Command(e.apiserverBin,
			"--etcd-servers="+e.etcdURL,
			"--etcd-prefix=/radix-test",
			"--secure-port="+strconv.Itoa(p),
			"--bind-address=127.0.0.1",
			"--advertise-address=127.0.0.1",
			"--tls-cert-file="+filepath.Join(e.Dir, "serving.crt"),
			"--tls-private-key-file="+filepath.Join(e.Dir, "serving.key"),
			"--cert-dir="+filepath.Join(e.Dir, "certs"),
			"--token-auth-file="+filepath.Join(e.Dir, "tokens.csv"),
			"--authorization-mode=RBAC",
			"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
			"--service-account-key-file="+filepath.Join(e.Dir, "sa.key"),
			"--service-account-signing-key-file="+filepath.Join(e.Dir, "sa.key"),
			"--service-cluster-ip-range=10.96.0.0/16",
			"--disable-admission-plugins=ServiceAccount",
			"--enable-priority-and-fairness=false",
			"--profiling=false",
		)
		cmd.Stdout, cmd.Stderr = logf, logf
		setDeathSignal(cmd)
		if err := cmd.Start(); err != nil {
			logf.Close()
			return fmt.Errorf("starting kube-apiserver %s: %w", e.apiserverBin, err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); logf.Close(); close(done) }()
		e.mu.Lock()
		e.api, e.apiDone, e.port = cmd, done, p
		e.Server = "https://127.0.0.1:" + strconv.Itoa(p)
		e.mu.Unlock()
		client := e.httpClient()
		lastErr = waitFor(ctx, 90*time.Second, done, func() bool {
			req, _ := http.NewRequest(http.MethodGet, e.Server+"/readyz", nil)
			req.Header.Set("Authorization", "Bearer "+e.AdminToken)
			resp, err := client.Do(req)
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == 200
		})
		if lastErr == nil {
			return nil
		}
		kill(cmd)
		lastErr = fmt.Errorf("kube-apiserver did not become ready: %w; log tail:\n%s", lastErr, tail(filepath.Join(e.Dir, "apiserver.log")))
		if port != 0 {
			time.Sleep(time.Second) // the old socket may linger a moment after a kill
		}
	}
	return lastErr
}

func (e *Env) httpClient() *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(e.CAData)
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// RestartAPIServer kills the API server outright and starts it again on the same address, as a
// control-plane upgrade or crash would look to clients.
func (e *Env) RestartAPIServer(ctx context.Context) error {
	e.mu.Lock()
	cmd, done, port := e.api, e.apiDone, e.port
	e.mu.Unlock()
	kill(cmd)
	<-done
	return e.startAPIServer(ctx, port)
}

// KillAPIServer stops the API server without starting it again (StartAPIServer brings it back).
func (e *Env) KillAPIServer() {
	e.mu.Lock()
	cmd, done := e.api, e.apiDone
	e.mu.Unlock()
	kill(cmd)
	<-done
}

// StartAPIServer starts a killed API server again on its old address.
func (e *Env) StartAPIServer(ctx context.Context) error { return e.startAPIServer(ctx, e.port) }

// Stop kills both processes (the API server's graceful shutdown is slow and buys tests nothing).
func (e *Env) Stop() {
	e.mu.Lock()
	api, etcd := e.api, e.etcd
	e.mu.Unlock()
	kill(api)
	kill(etcd)
}

func kill(cmd *exec.Cmd) {
	if cmd != nil && cmd.Process != nil {
		_ = cmd.Process.Kill()
	}
}

// AdminConfig is a rest.Config for the admin user.
func (e *Env) AdminConfig() *rest.Config { return e.restConfig(e.AdminToken) }

// PlainRestConfig is a rest.Config for the unprivileged user.
func (e *Env) PlainRestConfig() *rest.Config { return e.restConfig(e.PlainToken) }

func (e *Env) restConfig(token string) *rest.Config {
	return &rest.Config{Host: e.Server, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAData: e.CAData},
		QPS: 200, Burst: 400}
}

func (e *Env) writeKubeconfigs() error {
	write := func(path, ctxName, user, token string) error {
		cfg := map[string]any{
			"apiVersion":      "v1",
			"kind":            "Config",
			"current-context": ctxName,
			"clusters": []any{map[string]any{"name": "radix-test", "cluster": map[string]any{
				"server": e.Server, "certificate-authority-data": e.CAData}}},
			"users": []any{map[string]any{"name": user, "user": map[string]any{"token": token}}},
			"contexts": []any{map[string]any{"name": ctxName, "context": map[string]any{
				"cluster": "radix-test", "user": user, "namespace": "dynamo-cloud"}}},
		}
		data, err := yaml.Marshal(cfg)
		if err != nil {
			return fmt.Errorf("encoding kubeconfig: %w", err)
		}
		return os.WriteFile(path, data, 0o600)
	}
	e.Kubeconfig = filepath.Join(e.Dir, "kubeconfig")
	e.PlainConfig = filepath.Join(e.Dir, "kubeconfig-alice")
	if err := write(e.Kubeconfig, "radix-test", AdminUser, e.AdminToken); err != nil {
		return err
	}
	return write(e.PlainConfig, "radix-test-alice", PlainUser, e.PlainToken)
}

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// InstallCRDs creates the embedded CRDs and waits until the API server serves them.
func (e *Env) InstallCRDs(ctx context.Context) error {
	dyn, err := dynamic.NewForConfig(e.AdminConfig())
	if err != nil {
		return fmt.Errorf("dynamic client: %w", err)
	}
	names, err := fs.Glob(crds.FS, "*.yaml")
	if err != nil {
		return err
	}
	for _, n := range names {
		data, err := crds.FS.ReadFile(n)
		if err != nil {
			return err
		}
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(data, &obj.Object); err != nil {
			return fmt.Errorf("parsing %s: %w", n, err)
		}
		if _, err := dyn.Resource(crdGVR).Create(ctx, obj, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating CRD %s: %w", obj.GetName(), err)
		}
		if err := waitFor(ctx, 30*time.Second, nil, func() bool {
			got, err := dyn.Resource(crdGVR).Get(ctx, obj.GetName(), metav1.GetOptions{})
			if err != nil {
				return false
			}
			conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
			for _, c := range conds {
				m, _ := c.(map[string]any)
				if m["type"] == "Established" && m["status"] == "True" {
					return true
				}
			}
			return false
		}); err != nil {
			return fmt.Errorf("CRD %s not established: %w", obj.GetName(), err)
		}
	}
	// Discovery can lag the Established condition a moment; wait until the resource lists.
	gvr := schema.GroupVersionResource{Group: "nvidia.com", Version: "v1alpha1", Resource: "dynamographdeployments"}
	return waitFor(ctx, 30*time.Second, nil, func() bool {
		_, err := dyn.Resource(gvr).List(ctx, metav1.ListOptions{Limit: 1})
		return err == nil
	})
}

// waitFor polls cond until it holds, the process behind died closes, or the time is up. Polling is
// right here: a starting process offers nothing to watch.
func waitFor(ctx context.Context, limit time.Duration, died <-chan struct{}, cond func() bool) error {
	deadline := time.Now().Add(limit)
	for {
		if cond() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gave up after %v", limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-died:
			return errors.New("the process exited")
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}

func tail(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(data) > 3000 {
		data = data[len(data)-3000:]
	}
	return string(bytes.TrimSpace(data))
}
