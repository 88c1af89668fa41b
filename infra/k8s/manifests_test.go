// Package k8s holds pingpanda's Kubernetes manifests and the test that
// decodes every one of them strictly into the Kubernetes API types and checks
// what a CronJob of pingpanda must be: no overlapping runs, deadlines inside
// the schedule's period, a locked-down pod, and only settings pingpanda
// knows, with values it accepts.
package k8s

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/pingpanda/pingpanda/infra/internal/pingpandatest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pingpandatest.Cleanup()
	os.Exit(code)
}

const (
	image         = "ghcr.io/pingpanda/pingpanda:latest"
	pingSysctl    = "net.ipv4.ping_group_range"
	targetsEnvKey = "TARGETS_FILE"
)

// manifests is every object of every file, by kind and name.
type manifests struct {
	cronJobs    map[string]*batchv1.CronJob
	configMaps  map[string]*corev1.ConfigMap
	secrets     map[string]*corev1.Secret
	deployments map[string]*appsv1.Deployment
	services    map[string]*corev1.Service
	files       map[string]string // "Kind/name" -> file it came from
}

func newManifests() *manifests {
	return &manifests{
		cronJobs:    map[string]*batchv1.CronJob{},
		configMaps:  map[string]*corev1.ConfigMap{},
		secrets:     map[string]*corev1.Secret{},
		deployments: map[string]*appsv1.Deployment{},
		services:    map[string]*corev1.Service{},
		files:       map[string]string{},
	}
}

// add decodes every document of one file strictly: an unknown or misspelt
// field, a duplicate key or a value of the wrong type is an error, and so is
// a kind this directory is not expected to hold.
func (ms *manifests) add(file string, data []byte) error {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for doc := 1; ; doc++ {
		b, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: document %d: %w", file, doc, err)
		}
		if len(bytes.TrimSpace(stripComments(b))) == 0 {
			continue
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(b, &tm); err != nil {
			return fmt.Errorf("%s: document %d: %w", file, doc, err)
		}
		var (
			obj      any
			name     *string
			register func()
		)
		switch tm.APIVersion + " " + tm.Kind {
		case "batch/v1 CronJob":
			o := &batchv1.CronJob{}
			obj, name = o, &o.Name
			register = func() { ms.cronJobs[o.Name] = o }
		case "v1 ConfigMap":
			o := &corev1.ConfigMap{}
			obj, name = o, &o.Name
			register = func() { ms.configMaps[o.Name] = o }
		case "v1 Secret":
			o := &corev1.Secret{}
			obj, name = o, &o.Name
			register = func() { ms.secrets[o.Name] = o }
		case "apps/v1 Deployment":
			o := &appsv1.Deployment{}
			obj, name = o, &o.Name
			register = func() { ms.deployments[o.Name] = o }
		case "v1 Service":
			o := &corev1.Service{}
			obj, name = o, &o.Name
			register = func() { ms.services[o.Name] = o }
		default:
			return fmt.Errorf("%s: document %d: unexpected kind %q of %q", file, doc, tm.Kind, tm.APIVersion)
		}
		if err := yaml.UnmarshalStrict(b, obj); err != nil {
			return fmt.Errorf("%s: document %d (%s): %w", file, doc, tm.Kind, err)
		}
		if *name == "" {
			return fmt.Errorf("%s: document %d: %s without a name", file, doc, tm.Kind)
		}
		id := tm.Kind + "/" + *name
		if prev, dup := ms.files[id]; dup {
			return fmt.Errorf("%s: document %d: %s is also defined in %s", file, doc, id, prev)
		}
		ms.files[id] = file
		register()
	}
}

// stripComments drops whole-line comments, so that a document of nothing
// but comments counts as empty.
func stripComments(b []byte) []byte {
	var out []byte
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] != '#' {
			out = append(out, line...)
			out = append(out, '\n')
		}
	}
	return out
}

// load decodes every manifest in this directory.
func load(t *testing.T) *manifests {
	t.Helper()
	files, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no manifests in infra/k8s")
	}
	ms := newManifests()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := ms.add(f, b); err != nil {
			t.Fatal(err)
		}
	}
	return ms
}

func TestEveryManifestDecodesStrictly(t *testing.T) {
	ms := load(t)
	want := []string{
		"ConfigMap/pingpanda", "ConfigMap/pingpanda-targets",
		"CronJob/pingpanda", "CronJob/pingpanda-sharded",
		"Deployment/redis", "Secret/pingpanda", "Service/redis",
	}
	var got []string
	for id := range ms.files {
		got = append(got, id)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("objects in infra/k8s: %v, want %v", got, want)
	}
}

func TestCronJobs(t *testing.T) {
	ms := load(t)
	keys := pingpandatest.Keys(t)
	for _, name := range []string{"pingpanda", "pingpanda-sharded"} {
		t.Run(name, func(t *testing.T) {
			cj := ms.cronJobs[name]
			if cj == nil {
				t.Fatalf("no CronJob %s", name)
			}
			for _, p := range ms.checkCronJob(cj, keys) {
				t.Error(p)
			}
		})
	}
}

// TestTheCronJobsConfigurationIsValid gives pingpanda, through `pingpanda
// config`, exactly the environment the pod would have (the ConfigMap, the
// literal and Secret values, the targets file) and requires it to accept it;
// for the Indexed Job, once per completion index, which must become the
// shard index.
func TestTheCronJobsConfigurationIsValid(t *testing.T) {
	ms := load(t)
	for _, name := range []string{"pingpanda", "pingpanda-sharded"} {
		t.Run(name, func(t *testing.T) {
			cj := ms.cronJobs[name]
			if cj == nil {
				t.Fatalf("no CronJob %s", name)
			}
			spec := cj.Spec.JobTemplate.Spec
			pod := spec.Template.Spec
			env, err := ms.podEnv(t, pod)
			if err != nil {
				t.Fatal(err)
			}
			indexes := 1
			if spec.CompletionMode != nil && *spec.CompletionMode == batchv1.IndexedCompletion {
				indexes = int(*spec.Completions)
			}
			for i := range indexes {
				e := env
				if indexes > 1 {
					e = append(slices.Clip(env), "JOB_COMPLETION_INDEX="+strconv.Itoa(i))
				}
				settings, err := pingpandatest.Config(t, e)
				if err != nil {
					t.Fatalf("pingpanda rejects the pod's configuration: %v", err)
				}
				if got := settings["SHARD_INDEX"]; got != strconv.Itoa(i) {
					t.Errorf("pod %d: SHARD_INDEX %s, want %d", i, got, i)
				}
				if got, want := settings["SHARD_COUNT"], strconv.Itoa(indexes); got != want {
					t.Errorf("pod %d: SHARD_COUNT %s, want %s", i, got, want)
				}
				if settings["REDIS_URL"] == "" {
					t.Errorf("pod %d: no REDIS_URL: every run is a new pod, so state must live in Redis", i)
				}
			}
		})
	}
}

// podEnv is the environment of the pod's pingpanda container, with the
// targets file copied to a temporary directory so that it can be read here.
func (ms *manifests) podEnv(t *testing.T, pod corev1.PodSpec) ([]string, error) {
	c := pod.Containers[0]
	var env []string
	for _, ef := range c.EnvFrom {
		if ef.ConfigMapRef == nil {
			return nil, fmt.Errorf("envFrom other than a ConfigMap")
		}
		cm := ms.configMaps[ef.ConfigMapRef.Name]
		if cm == nil {
			return nil, fmt.Errorf("envFrom names ConfigMap %s, which no manifest defines", ef.ConfigMapRef.Name)
		}
		for k, v := range cm.Data {
			env = append(env, k+"="+v)
		}
	}
	for _, e := range c.Env {
		v := e.Value
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			ref := e.ValueFrom.SecretKeyRef
			s, ok := ms.secrets[ref.Name].StringData[ref.Key]
			if !ok {
				continue // optional, checked in checkCronJob
			}
			v = s
		}
		env = append(env, e.Name+"="+v)
	}
	// The targets file: from its ConfigMap volume into a temporary directory.
	for i, kv := range env {
		k, path, _ := strings.Cut(kv, "=")
		if k != targetsEnvKey {
			continue
		}
		data, err := ms.mountedFile(pod, c, path)
		if err != nil {
			return nil, fmt.Errorf("%s=%s: %w", targetsEnvKey, path, err)
		}
		local := filepath.Join(t.TempDir(), "targets.yaml")
		if err := os.WriteFile(local, []byte(data), 0o644); err != nil {
			return nil, err
		}
		env[i] = targetsEnvKey + "=" + local
	}
	return env, nil
}

// mountedFile returns the content the container would see at path, which
// must come from a ConfigMap volume.
func (ms *manifests) mountedFile(pod corev1.PodSpec, c corev1.Container, path string) (string, error) {
	for _, vm := range c.VolumeMounts {
		rel, ok := strings.CutPrefix(path, strings.TrimSuffix(vm.MountPath, "/")+"/")
		if !ok {
			continue
		}
		for _, v := range pod.Volumes {
			if v.Name != vm.Name || v.ConfigMap == nil {
				continue
			}
			cm := ms.configMaps[v.ConfigMap.Name]
			if cm == nil {
				return "", fmt.Errorf("volume %s names ConfigMap %s, which no manifest defines", v.Name, v.ConfigMap.Name)
			}
			data, ok := cm.Data[rel]
			if !ok {
				return "", fmt.Errorf("ConfigMap %s has no key %s", cm.Name, rel)
			}
			return data, nil
		}
	}
	return "", errors.New("no ConfigMap volume is mounted there")
}

// checkCronJob returns every way cj falls short of what pingpanda needs.
func (ms *manifests) checkCronJob(cj *batchv1.CronJob, keys map[string]bool) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	period, err := schedulePeriod(cj.Spec.Schedule)
	if err != nil {
		bad("%v", err)
	}
	if cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
		bad("concurrencyPolicy is %q, want Forbid", cj.Spec.ConcurrencyPolicy)
	}
	if d := cj.Spec.StartingDeadlineSeconds; d == nil || *d <= 0 || time.Duration(*d)*time.Second >= period {
		bad("startingDeadlineSeconds %s, want set, positive and under the schedule's period %s", i64(d), period)
	}
	spec := cj.Spec.JobTemplate.Spec
	active := spec.ActiveDeadlineSeconds
	if active == nil || *active <= 0 || time.Duration(*active)*time.Second >= period {
		bad("activeDeadlineSeconds %s, want set and under the schedule's period %s", i64(active), period)
	}
	if spec.BackoffLimit == nil || *spec.BackoffLimit != 0 {
		bad("backoffLimit %s, want 0: the next scheduled run is the retry", i32(spec.BackoffLimit))
	}

	pod := spec.Template.Spec
	if pod.RestartPolicy != corev1.RestartPolicyNever {
		bad("restartPolicy %q, want Never", pod.RestartPolicy)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		bad("automountServiceAccountToken is not false: pingpanda needs no API access")
	}
	psc := pod.SecurityContext
	if psc == nil {
		bad("no pod securityContext")
		psc = &corev1.PodSecurityContext{}
	}
	if psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		bad("pod securityContext.runAsNonRoot is not true")
	}
	if psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		bad("pod securityContext.runAsUser %s, want a non-zero user", i64(psc.RunAsUser))
	}
	if psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		bad("pod seccompProfile is not RuntimeDefault")
	}
	if err := pingRangeCovers(psc); err != nil {
		bad("%v", err)
	}

	if len(pod.Containers) != 1 || len(pod.InitContainers) != 0 {
		bad("%d containers and %d init containers, want the one pingpanda container", len(pod.Containers), len(pod.InitContainers))
		return problems
	}
	c := pod.Containers[0]
	if c.Image != image {
		bad("image %q, want %q", c.Image, image)
	}
	if timeout, err := sweepTimeout(c.Args); err != nil {
		bad("%v", err)
	} else if active != nil && timeout >= time.Duration(*active)*time.Second {
		bad("the sweep's --timeout %s is not under activeDeadlineSeconds %d: state and alerts need time after it", timeout, *active)
	}
	csc := c.SecurityContext
	if csc == nil {
		bad("no container securityContext")
		csc = &corev1.SecurityContext{}
	}
	if csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation {
		bad("allowPrivilegeEscalation is not false")
	}
	if csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem {
		bad("readOnlyRootFilesystem is not true")
	}
	if csc.Privileged != nil && *csc.Privileged {
		bad("the container is privileged")
	}
	if csc.Capabilities == nil || !slices.Equal(csc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(csc.Capabilities.Add) > 0 {
		bad("capabilities %+v, want drop [ALL] and nothing added", csc.Capabilities)
	}
	if csc.RunAsUser != nil && *csc.RunAsUser == 0 || csc.RunAsNonRoot != nil && !*csc.RunAsNonRoot {
		bad("the container's securityContext undoes the pod's non-root user")
	}

	// Every setting is one of pingpanda's keys; every reference resolves.
	env := map[string]string{}
	for _, ef := range c.EnvFrom {
		switch {
		case ef.ConfigMapRef != nil:
			cm := ms.configMaps[ef.ConfigMapRef.Name]
			if cm == nil {
				bad("envFrom names ConfigMap %s, which no manifest defines", ef.ConfigMapRef.Name)
				continue
			}
			for k, v := range cm.Data {
				if !keys[k] {
					bad("ConfigMap %s sets %s, which is not a pingpanda key", cm.Name, k)
				}
				env[k] = v
			}
		default:
			bad("envFrom other than a ConfigMap: secrets go in env, one key each")
		}
	}
	for _, e := range c.Env {
		if !keys[e.Name] {
			bad("env %s is not a pingpanda key", e.Name)
		}
		if _, dup := env[e.Name]; dup {
			bad("env %s is set twice (env and envFrom)", e.Name)
		}
		env[e.Name] = e.Value
		if e.ValueFrom == nil {
			continue
		}
		ref := e.ValueFrom.SecretKeyRef
		if ref == nil {
			bad("env %s: valueFrom other than a secretKeyRef", e.Name)
			continue
		}
		s := ms.secrets[ref.Name]
		if s == nil {
			bad("env %s names Secret %s, which no manifest defines", e.Name, ref.Name)
			continue
		}
		if _, ok := s.StringData[ref.Key]; !ok && (ref.Optional == nil || !*ref.Optional) {
			bad("env %s names key %s, which Secret %s lacks", e.Name, ref.Key, s.Name)
		}
	}

	indexed := spec.CompletionMode != nil && *spec.CompletionMode == batchv1.IndexedCompletion
	shards, hasCount := env["SHARD_COUNT"]
	if _, ok := env["SHARD_INDEX"]; ok {
		bad("SHARD_INDEX is set: it must default to JOB_COMPLETION_INDEX")
	}
	switch {
	case indexed:
		n, err := strconv.Atoi(shards)
		if !hasCount || err != nil {
			bad("an Indexed Job without a numeric SHARD_COUNT (%q)", shards)
		}
		if spec.Completions == nil || spec.Parallelism == nil || int(*spec.Completions) != n || int(*spec.Parallelism) != n {
			bad("completions %s and parallelism %s must both equal SHARD_COUNT %s", i32(spec.Completions), i32(spec.Parallelism), shards)
		}
	case hasCount && shards != "1":
		bad("SHARD_COUNT %s without an Indexed Job: every pod would be shard 0", shards)
	}
	return problems
}

// schedulePeriod is the time between two runs of a cron schedule of the
// forms these manifests use: every minute, or every N minutes.
func schedulePeriod(schedule string) (time.Duration, error) {
	f := strings.Fields(schedule)
	if len(f) != 5 || f[1] != "*" || f[2] != "*" || f[3] != "*" || f[4] != "*" {
		return 0, fmt.Errorf("schedule %q: cannot tell its period (want \"* * * * *\" or \"*/N * * * *\")", schedule)
	}
	if f[0] == "*" {
		return time.Minute, nil
	}
	n, err := strconv.Atoi(strings.TrimPrefix(f[0], "*/"))
	if !strings.HasPrefix(f[0], "*/") || err != nil || n < 1 || 60%n != 0 {
		return 0, fmt.Errorf("schedule %q: cannot tell its period", schedule)
	}
	return time.Duration(n) * time.Minute, nil
}

// sweepTimeout reads the sweep's deadline from the container's arguments.
func sweepTimeout(args []string) (time.Duration, error) {
	if len(args) == 0 || args[0] != "sweep" {
		return 0, fmt.Errorf("args %q: want the sweep command", args)
	}
	i := slices.Index(args, "--timeout")
	if i < 0 || i+1 >= len(args) {
		return 0, fmt.Errorf("args %q: no --timeout", args)
	}
	d, err := time.ParseDuration(args[i+1])
	if err != nil {
		return 0, fmt.Errorf("args %q: --timeout: %w", args, err)
	}
	return d, nil
}

// pingRangeCovers checks that the pod sets the ping_group_range sysctl to a
// range holding the group it runs as, so datagram ICMP is allowed.
func pingRangeCovers(psc *corev1.PodSecurityContext) error {
	for _, s := range psc.Sysctls {
		if s.Name != pingSysctl {
			continue
		}
		f := strings.Fields(s.Value)
		if len(f) != 2 {
			return fmt.Errorf("sysctl %s=%q: want two numbers", pingSysctl, s.Value)
		}
		lo, err1 := strconv.ParseInt(f[0], 10, 64)
		hi, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("sysctl %s=%q: want two numbers", pingSysctl, s.Value)
		}
		gid := int64(0)
		if psc.RunAsGroup != nil {
			gid = *psc.RunAsGroup
		}
		if gid < lo || gid > hi {
			return fmt.Errorf("sysctl %s=%q does not hold the pod's group %d", pingSysctl, s.Value, gid)
		}
		return nil
	}
	return fmt.Errorf("no sysctl %s: datagram ICMP would be refused", pingSysctl)
}

func TestTheExampleRedisMatchesTheSecret(t *testing.T) {
	ms := load(t)
	d, svc, s := ms.deployments["redis"], ms.services["redis"], ms.secrets["pingpanda"]
	if d == nil || svc == nil || s == nil {
		t.Fatal("want Deployment/redis, Service/redis and Secret/pingpanda")
	}
	for _, labels := range []map[string]string{d.Labels, svc.Labels} {
		if labels["example"] != "true" {
			t.Errorf("the example Redis is not labelled example=true: %v", labels)
		}
	}
	for k, v := range svc.Spec.Selector {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("Service selector %s=%s does not select the Deployment's pods (%v)", k, v, d.Spec.Template.Labels)
		}
	}
	u, err := url.Parse(s.StringData["redis-url"])
	if err != nil {
		t.Fatalf("the Secret's redis-url: %v", err)
	}
	if u.Hostname() != svc.Name || u.Port() != strconv.Itoa(int(svc.Spec.Ports[0].Port)) {
		t.Errorf("redis-url points at %s, not at Service %s port %d", u.Host, svc.Name, svc.Spec.Ports[0].Port)
	}
	if pw, _ := u.User.Password(); pw != s.StringData["redis-password"] {
		t.Error("the password in redis-url differs from redis-password, which the example Redis requires")
	}
	pod := d.Spec.Template.Spec
	if psc := pod.SecurityContext; psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		t.Error("the example Redis does not run as non-root")
	}
	for _, c := range pod.Containers {
		csc := c.SecurityContext
		if csc == nil || csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem ||
			csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation ||
			csc.Capabilities == nil || !slices.Equal(csc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
			t.Errorf("container %s of the example Redis is not locked down: %+v", c.Name, csc)
		}
	}
}

// TestTheChecksCatchMistakes breaks cronjob.yaml one way at a time and
// requires the checks above to notice: they can fail.
func TestTheChecksCatchMistakes(t *testing.T) {
	orig, err := os.ReadFile("cronjob.yaml")
	if err != nil {
		t.Fatal(err)
	}
	keys := pingpandatest.Keys(t)
	cases := []struct {
		name, old, new, want string
	}{
		{"a misspelt field is a decoding error", "concurrencyPolicy: Forbid", "concurencyPolicy: Forbid", "unknown field"},
		{"a wrongly typed value is a decoding error", "startingDeadlineSeconds: 30", "startingDeadlineSeconds: soon", "startingDeadlineSeconds"},
		{"overlapping runs", "concurrencyPolicy: Forbid", "concurrencyPolicy: Allow", "want Forbid"},
		{"no starting deadline", "\n  startingDeadlineSeconds: 30", "", "startingDeadlineSeconds"},
		{"a deadline past the period", "activeDeadlineSeconds: 55", "activeDeadlineSeconds: 60", "activeDeadlineSeconds"},
		{"a sweep timeout past the deadline", `"--timeout", "45s"`, `"--timeout", "55s"`, "--timeout"},
		{"root", "runAsNonRoot: true\n            runAsUser: 65532", "runAsNonRoot: false\n            runAsUser: 0", "runAsNonRoot"},
		{"a writable root filesystem", "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false", "readOnlyRootFilesystem"},
		{"privilege escalation", "allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true", "allowPrivilegeEscalation"},
		{"capabilities kept", `drop: ["ALL"]`, `drop: ["NET_ADMIN"]`, "capabilities"},
		{"no ping sysctl", "name: net.ipv4.ping_group_range", "name: net.ipv4.ip_unprivileged_port_start", "ping_group_range"},
		{"another image", "image: ghcr.io/pingpanda/pingpanda:latest", "image: busybox", "image"},
		{"an unknown setting", "name: ALERT_SOURCE_NAME", "name: ALERT_SOURCE", "not a pingpanda key"},
		{"a missing secret key", "key: redis-url", "key: redis-uri", "lacks"},
		{"shards without an Indexed Job", "- name: ALERT_SOURCE_NAME", "- name: SHARD_COUNT\n                  value: \"3\"\n                - name: ALERT_SOURCE_NAME", "Indexed Job"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !bytes.Contains(orig, []byte(tc.old)) {
				t.Fatalf("cronjob.yaml no longer contains %q; update this case", tc.old)
			}
			broken := bytes.Replace(orig, []byte(tc.old), []byte(tc.new), 1)
			ms := load(t)
			delete(ms.cronJobs, "pingpanda")
			delete(ms.files, "CronJob/pingpanda")
			var got []string
			if err := ms.add("cronjob.yaml", broken); err != nil {
				got = []string{err.Error()}
			} else {
				got = ms.checkCronJob(ms.cronJobs["pingpanda"], keys)
			}
			if !slices.ContainsFunc(got, func(p string) bool { return strings.Contains(p, tc.want) }) {
				t.Errorf("problems %q, want one mentioning %q", got, tc.want)
			}
		})
	}
}

func TestTheShardedChecksCatchMismatchedCounts(t *testing.T) {
	orig, err := os.ReadFile("cronjob-sharded.yaml")
	if err != nil {
		t.Fatal(err)
	}
	keys := pingpandatest.Keys(t)
	for _, tc := range []struct{ old, new string }{
		{"completions: 4", "completions: 5"},
		{"parallelism: 4", "parallelism: 2"},
		{`value: "4"`, `value: "3"`},
		{"completionMode: Indexed", "completionMode: NonIndexed"},
	} {
		t.Run(tc.new, func(t *testing.T) {
			if !bytes.Contains(orig, []byte(tc.old)) {
				t.Fatalf("cronjob-sharded.yaml no longer contains %q; update this case", tc.old)
			}
			ms := newManifests()
			if err := ms.add("cronjob-sharded.yaml", bytes.Replace(orig, []byte(tc.old), []byte(tc.new), 1)); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{"configmap.yaml", "secret.example.yaml"} {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				if err := ms.add(f, b); err != nil {
					t.Fatal(err)
				}
			}
			got := ms.checkCronJob(ms.cronJobs["pingpanda-sharded"], keys)
			if !slices.ContainsFunc(got, func(p string) bool { return strings.Contains(p, "SHARD_COUNT") }) {
				t.Errorf("problems %q, want one about SHARD_COUNT", got)
			}
		})
	}
}

func i64(p *int64) string {
	if p == nil {
		return "unset"
	}
	return strconv.FormatInt(*p, 10)
}

func i32(p *int32) string {
	if p == nil {
		return "unset"
	}
	return strconv.Itoa(int(*p))
}
