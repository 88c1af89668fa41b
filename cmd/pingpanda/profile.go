package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
)

// profileEnv names the environment variable that asks for a profile, as
// --profile does: "cpu:FILE" or "mem:FILE".
const profileEnv = "PINGPANDA_PROFILE"

// profileSpec is what --profile asked for: a CPU or heap profile of one
// sweep, written to file in pprof's format.
type profileSpec struct {
	kind string // "cpu" or "mem"
	file string
}

// parseProfile reads "cpu:FILE" or "mem:FILE".
func parseProfile(s string) (profileSpec, error) {
	kind, file, ok := strings.Cut(s, ":")
	if !ok || (kind != "cpu" && kind != "mem") || file == "" {
		return profileSpec{}, fmt.Errorf("profile %q is not cpu:FILE or mem:FILE", s)
	}
	return profileSpec{kind: kind, file: file}, nil
}

// start begins the profile; the function it returns ends it and writes
// the file. A CPU profile covers everything between the two; a heap
// profile is taken when it ends, after a garbage collection, and shows
// the sweep's allocations (go tool pprof -sample_index=alloc_space) as
// well as what was still in use.
func (p profileSpec) start() (stop func() error, err error) {
	f, err := os.Create(p.file)
	if err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	if p.kind == "mem" {
		return func() error {
			runtime.GC()
			return errors.Join(wrapProfile(pprof.Lookup("allocs").WriteTo(f, 0)), wrapProfile(f.Close()))
		}, nil
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("profile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		return wrapProfile(f.Close())
	}, nil
}

func wrapProfile(err error) error {
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	return nil
}

// profileFor returns what --profile or, failing that, PINGPANDA_PROFILE
// asks for; ok is false when neither does.
func profileFor(flagValue string, environ []string) (spec profileSpec, ok bool, err error) {
	s := flagValue
	if s == "" {
		for _, kv := range environ {
			if v, found := strings.CutPrefix(kv, profileEnv+"="); found {
				s = v
			}
		}
	}
	if s == "" {
		return profileSpec{}, false, nil
	}
	spec, err = parseProfile(s)
	return spec, err == nil, err
}

// startProfile starts the profile that --profile or PINGPANDA_PROFILE asks
// for, if any; stop writes it. code is exitOK, or the exit code of a
// profile that cannot start (said in the log).
func startProfile(log *slog.Logger, flagValue string, environ []string) (stop func(), code int) {
	prof, profiling, err := profileFor(flagValue, environ)
	if err != nil {
		log.Error("cannot profile the sweep", "err", err)
		return nil, exitUsageErr
	}
	if !profiling {
		return func() {}, exitOK
	}
	stopProfile, err := prof.start()
	if err != nil {
		log.Error("cannot profile the sweep", "err", err)
		return nil, exitFailed
	}
	return func() {
		if err := stopProfile(); err != nil {
			log.Error("cannot write the profile", "err", err)
		} else {
			log.Info("profile written", "kind", prof.kind, "file", prof.file)
		}
	}, exitOK
}
