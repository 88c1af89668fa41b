// Package docker holds the compose file that runs pingpanda beside a Redis
// and a Pushgateway, and tests it and the repository's Dockerfile by reading
// them (no Docker engine is needed): the wiring, the settings, and an image
// that is static, distroless and non-root.
package docker

import (
	"bytes"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/pingpanda/pingpanda/infra/internal/pingpandatest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pingpandatest.Cleanup()
	os.Exit(code)
}

// compose is the part of the Compose specification this file uses; decoding
// is strict, so a misspelt or unexpected key fails.
type compose struct {
	Name       string             `yaml:"name"`
	XPingpanda yaml.Node          `yaml:"x-pingpanda"`
	Services   map[string]service `yaml:"services"`
	Volumes    map[string]any     `yaml:"volumes"`
}

type service struct {
	Build *struct {
		Context    string `yaml:"context"`
		Dockerfile string `yaml:"dockerfile"`
	} `yaml:"build"`
	Image   string `yaml:"image"`
	EnvFile []struct {
		Path     string `yaml:"path"`
		Required bool   `yaml:"required"`
	} `yaml:"env_file"`
	Environment map[string]string `yaml:"environment"`
	Command     []string          `yaml:"command"`
	Profiles    []string          `yaml:"profiles"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	ReadOnly        bool              `yaml:"read_only"`
	CapDrop         []string          `yaml:"cap_drop"`
	CapAdd          []string          `yaml:"cap_add"`
	SecurityOpt     []string          `yaml:"security_opt"`
	Sysctls         map[string]string `yaml:"sysctls"`
	Tmpfs           []string          `yaml:"tmpfs"`
	Ports           []string          `yaml:"ports"`
	Volumes         []string          `yaml:"volumes"`
	Restart         string            `yaml:"restart"`
	StopGracePeriod string            `yaml:"stop_grace_period"`
	Healthcheck     *healthcheck      `yaml:"healthcheck"`
	User            string            `yaml:"user"`
	Privileged      bool              `yaml:"privileged"`
	NetworkMode     string            `yaml:"network_mode"`
}

type healthcheck struct {
	Test     []string `yaml:"test"`
	Interval string   `yaml:"interval"`
	Timeout  string   `yaml:"timeout"`
	Retries  int      `yaml:"retries"`
}

func parse(t *testing.T, data []byte) compose {
	t.Helper()
	var c compose
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("compose.yml: %v", err)
	}
	return c
}

func load(t *testing.T) compose {
	t.Helper()
	return parse(t, pingpandatest.ReadFile(t, "infra/docker/compose.yml"))
}

func TestComposeDecodesStrictly(t *testing.T) {
	c := load(t)
	var names []string
	for n := range c.Services {
		names = append(names, n)
	}
	slices.Sort(names)
	if want := []string{"pingpanda", "pushgateway", "redis", "sweep"}; !slices.Equal(names, want) {
		t.Errorf("services %v, want %v", names, want)
	}
	broken := bytes.Replace(pingpandatest.ReadFile(t, "infra/docker/compose.yml"), []byte("read_only: true"), []byte("readonly: true"), 1)
	var c2 compose
	dec := yaml.NewDecoder(bytes.NewReader(broken))
	dec.KnownFields(true)
	if err := dec.Decode(&c2); err == nil {
		t.Error("a misspelt key decoded without an error: the decoding is not strict")
	}
}

func TestComposeWiring(t *testing.T) {
	c := load(t)
	root := pingpandatest.Root(t)
	for _, name := range []string{"pingpanda", "sweep"} {
		t.Run(name, func(t *testing.T) {
			s := c.Services[name]
			if s.Build == nil {
				t.Fatal("not built from the repository")
			}
			ctx := filepath.Join(root, "infra", "docker", s.Build.Context)
			if filepath.Clean(ctx) != root {
				t.Errorf("build context %s is not the repository's root", s.Build.Context)
			}
			if _, err := os.Stat(filepath.Join(ctx, s.Build.Dockerfile)); err != nil {
				t.Errorf("dockerfile: %v", err)
			}
			checkURL(t, s.Environment["REDIS_URL"], c, "redis", "6379")
			checkURL(t, s.Environment["PUSHGATEWAY_URL"], c, "pushgateway", "9091")
			for dep, want := range map[string]string{"redis": "service_healthy", "pushgateway": "service_started"} {
				if got := s.DependsOn[dep].Condition; got != want {
					t.Errorf("depends_on %s: %q, want %q", dep, got, want)
				}
			}
			if !s.ReadOnly || !slices.Equal(s.CapDrop, []string{"ALL"}) || len(s.CapAdd) > 0 || s.Privileged ||
				!slices.Contains(s.SecurityOpt, "no-new-privileges:true") || s.User != "" || s.NetworkMode != "" {
				t.Errorf("not locked down: read_only %v, cap_drop %v, cap_add %v, security_opt %v, user %q, network_mode %q",
					s.ReadOnly, s.CapDrop, s.CapAdd, s.SecurityOpt, s.User, s.NetworkMode)
			}
			if s.Sysctls["net.ipv4.ping_group_range"] != "0 2147483647" {
				t.Errorf("sysctls %v: want net.ipv4.ping_group_range for datagram ICMP", s.Sysctls)
			}
			if len(s.EnvFile) != 1 || s.EnvFile[0].Path != "pingpanda.env" || s.EnvFile[0].Required {
				t.Errorf("env_file %+v: want the optional pingpanda.env", s.EnvFile)
			}
		})
	}
	serve, sweep := c.Services["pingpanda"], c.Services["sweep"]
	if !slices.Equal(serve.Command, []string{"serve"}) || serve.Environment["INTERVAL"] == "" || len(serve.Profiles) != 0 {
		t.Errorf("pingpanda: command %v, INTERVAL %q, profiles %v; want serve, an interval, always on", serve.Command, serve.Environment["INTERVAL"], serve.Profiles)
	}
	if len(sweep.Command) == 0 || sweep.Command[0] != "sweep" || !slices.Equal(sweep.Profiles, []string{"oneshot"}) {
		t.Errorf("sweep: command %v, profiles %v; want a one-shot sweep in profile oneshot", sweep.Command, sweep.Profiles)
	}
	if serve.Environment["PROMETHEUS_BIND_ADDRESS"] != "0.0.0.0" || !slices.Contains(serve.Ports, "127.0.0.1:"+serve.Environment["PROMETHEUS_PORT"]+":"+serve.Environment["PROMETHEUS_PORT"]) {
		t.Errorf("/metrics: bind %q, port %q, ports %v; want 0.0.0.0 inside, published on 127.0.0.1 only",
			serve.Environment["PROMETHEUS_BIND_ADDRESS"], serve.Environment["PROMETHEUS_PORT"], serve.Ports)
	}
	if hc := c.Services["redis"].Healthcheck; hc == nil || len(hc.Test) == 0 {
		t.Error("redis has no healthcheck, which service_healthy waits for")
	}
	for name, s := range c.Services {
		for _, p := range s.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("%s publishes %s beyond loopback", name, p)
			}
		}
	}
}

// checkURL requires u to point at the named service of c on port.
func checkURL(t *testing.T, raw string, c compose, svc, port string) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() != svc || u.Port() != port {
		t.Errorf("%q does not point at service %s port %s", raw, svc, port)
	}
	if _, ok := c.Services[svc]; !ok {
		t.Errorf("%q points at service %s, which compose.yml lacks", raw, svc)
	}
}

// TestComposeSettingsArePingpandas runs `pingpanda config` on each pingpanda
// service's environment together with the example env-file.
func TestComposeSettingsArePingpandas(t *testing.T) {
	c := load(t)
	keys := pingpandatest.Keys(t)
	example := pingpandatest.ReadFile(t, "infra/docker/pingpanda.env.example")
	var fileEnv []string
	for line := range strings.SplitSeq(string(example), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, _, ok := strings.Cut(line, "=")
		if !ok || !keys[k] {
			t.Errorf("pingpanda.env.example: %q is not a setting of pingpanda", line)
		}
		fileEnv = append(fileEnv, line)
	}
	for _, name := range []string{"pingpanda", "sweep"} {
		env := slices.Clone(fileEnv)
		for k, v := range c.Services[name].Environment {
			if !keys[k] {
				t.Errorf("%s: environment %s is not a pingpanda key", name, k)
			}
			env = append(env, k+"="+v)
		}
		if _, err := pingpandatest.Config(t, env); err != nil {
			t.Errorf("%s: pingpanda rejects the configuration: %v", name, err)
		}
	}
}

// TestDockerfile checks the image is built the way the issue asks: in two
// stages, static, on distroless, as a non-root user, with no shell needed.
func TestDockerfile(t *testing.T) {
	df := string(pingpandatest.ReadFile(t, "Dockerfile"))
	var froms []string
	var final []string // instructions of the final stage
	for line := range strings.SplitSeq(df, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "FROM":
			froms = append(froms, f[1])
			final = nil
		default:
			final = append(final, line)
		}
	}
	if len(froms) < 2 {
		t.Fatalf("FROM %v: want a build stage and a final one", froms)
	}
	last := froms[len(froms)-1]
	if !regexp.MustCompile(`^(gcr\.io/distroless/static(-debian\d+)?:nonroot|scratch)$`).MatchString(last) {
		t.Errorf("final image %s: want distroless static nonroot (or scratch)", last)
	}
	if !strings.Contains(df, "CGO_ENABLED=0") || !strings.Contains(df, "-trimpath") {
		t.Error("the binary is not built static (CGO_ENABLED=0) with -trimpath")
	}
	gomod := string(pingpandatest.ReadFile(t, "go.mod"))
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(gomod)
	if m == nil || !strings.HasPrefix(froms[0], "golang:"+m[1]) {
		t.Errorf("build stage %s does not match go.mod's Go %v", froms[0], m)
	}
	var user, entry string
	for _, ins := range final {
		f := strings.Fields(ins)
		switch strings.ToUpper(f[0]) {
		case "RUN", "SHELL", "HEALTHCHECK":
			t.Errorf("the final stage has %q: it has no shell to run it", ins)
		case "USER":
			user = f[1]
		case "ENTRYPOINT":
			entry = strings.TrimSpace(strings.TrimPrefix(ins, f[0]))
		}
	}
	if user == "" || strings.HasPrefix(user, "root") || strings.HasPrefix(user, "0") {
		t.Errorf("USER %q: want a non-root user", user)
	}
	if !strings.HasPrefix(entry, `["`) {
		t.Errorf("ENTRYPOINT %s: want the exec form, which needs no shell", entry)
	}
	if !strings.Contains(df, fmt.Sprintf("ENV STATE_FILE=%s", "/state/state.json")) {
		t.Error("the image has no STATE_FILE on its volume")
	}
	// LOG_DIR's default (/logs) holds the stats log: the non-root user must
	// be able to write there, or STORE_STATS_LOG=true only logs
	// "permission denied" every sweep.
	if !regexp.MustCompile(`(?m)^COPY --from=build --chown=nonroot:nonroot \S+ /logs$`).MatchString(df) {
		t.Error("the image has no /logs owned by the non-root user, LOG_DIR's default")
	}
}
