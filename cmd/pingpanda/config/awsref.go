package config

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/pingpanda/pingpanda/cmd/pingpanda/awsref"
)

// awsTimeout bounds the resolution of every AWS reference of one load,
// retries included.
const awsTimeout = 10 * time.Second

// awsJob is one reference to resolve: a secret key's, or TARGETS_FILE's.
type awsJob struct {
	key   string
	ref   awsref.Ref
	limit int64
	value []byte
	err   error
}

// resolveAWS resolves the AWS references among the secret keys and
// TARGETS_FILE, all at once and within awsTimeout. Without a reference it
// does nothing: the SDK is not even configured. Problems name the key and
// the reference, never a value.
func (l *loader) resolveAWS(ctx context.Context) {
	var jobs []*awsJob
	for _, k := range keys {
		if !k.secret && k.name != "TARGETS_FILE" {
			continue
		}
		if l.values[k.name].ref != "" {
			continue // read from a file: its content is the value, never a reference
		}
		v := strings.TrimSpace(l.values[k.name].value)
		ref, ok, err := awsref.Parse(v, k.name == "TARGETS_FILE")
		if !ok {
			continue
		}
		if k.name == "TARGETS_FILE" {
			l.targetsRef = true
		}
		if err != nil {
			l.problem("%s: %q %v", k.name, v, err)
			l.setResolved(k.name, "", v)
			continue
		}
		limit := int64(maxSecretFile)
		if k.name == "TARGETS_FILE" {
			limit = maxTargetsFile
		}
		jobs = append(jobs, &awsJob{key: k.name, ref: ref, limit: limit})
	}
	if len(jobs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, awsTimeout)
	defer cancel()
	newStore := l.newAWS
	if newStore == nil {
		newStore = awsref.New
	}
	store, err := newStore(ctx, l.environ)
	if err != nil {
		for _, j := range jobs {
			l.problem("%s: %s: %v", j.key, j.ref.Text, err)
			l.setResolved(j.key, "", j.ref.Text)
		}
		return
	}
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Go(func() { j.value, j.err = store.Fetch(ctx, j.ref, j.limit) })
	}
	wg.Wait()
	for _, j := range jobs {
		if j.err != nil {
			l.problem("%s: %s: %s", j.key, j.ref.Text, awsref.Explain(j.err, j.ref, store.Region()))
			l.transient = l.transient || awsref.Transient(j.err)
			j.value = nil
		}
		if j.key == "TARGETS_FILE" {
			l.targetsData = j.value
			continue
		}
		v := strings.TrimSpace(string(j.value))
		if strings.HasPrefix(v, "{") && strings.HasSuffix(v, "}") {
			// The Secrets Manager console stores key/value pairs as JSON
			// by default; the value itself is wanted.
			l.problem("%s: %s holds a JSON object, not the value itself (value not shown); "+
				"store the plain value (the console's Plaintext tab)", j.key, j.ref.Text)
			v = ""
		}
		l.setResolved(j.key, v, j.ref.Text)
	}
}

// setResolved replaces a secret key's reference by the value it names,
// remembering the reference for `pingpanda config` and for problems.
func (l *loader) setResolved(key, value, ref string) {
	if key == "TARGETS_FILE" {
		return
	}
	s := l.values[key]
	l.values[key] = setting{value: value, source: s.source, ref: ref}
}
