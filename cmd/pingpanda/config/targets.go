package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"gopkg.in/yaml.v3"

	"github.com/pingpanda/pingpanda/probe"
)

// fileTarget is a target read from TARGETS_FILE, with the line it came from.
type fileTarget struct {
	probe.Target
	line int
}

// maxTargetsFile bounds the size of TARGETS_FILE.
const maxTargetsFile = 16 << 20

// readTargetsFile reads a YAML list of targets:
//
//   - {check: http, target: https://example.com/health, name: shop}
//   - check: dns
//     target: example.com
//
// Every bad entry is reported, one per line of the error, as
// "path:line: problem".
func readTargetsFile(path string) ([]fileTarget, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, unwrapPathError(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxTargetsFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > maxTargetsFile {
		return nil, fmt.Errorf("%s: larger than %d MiB", path, maxTargetsFile>>20)
	}
	return parseTargetsYAML(data, path)
}

func parseTargetsYAML(data []byte, path string) ([]fileTarget, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil // an empty file lists no targets
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.SequenceNode {
		if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
			return nil, nil
		}
		return nil, fmt.Errorf("%s:%d: want a list of targets (- {check: …, target: …})", path, root.Line)
	}
	var (
		out  []fileTarget
		errs []error
	)
	for _, item := range root.Content {
		var entry struct {
			Check  string `yaml:"check"`
			Target string `yaml:"target"`
			Name   string `yaml:"name"`
		}
		if item.Kind != yaml.MappingNode {
			errs = append(errs, fmt.Errorf("%s:%d: want a mapping with check and target", path, item.Line))
			continue
		}
		if err := decodeStrict(item, &entry); err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %w", path, item.Line, err))
			continue
		}
		if entry.Check == "" || entry.Target == "" {
			errs = append(errs, fmt.Errorf("%s:%d: both check and target are required", path, item.Line))
			continue
		}
		c, err := probe.ParseCheck(entry.Check)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: check %w", path, item.Line, err))
			continue
		}
		t, err := probe.ParseTarget(c, entry.Target)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %s target %w", path, item.Line, c, err))
			continue
		}
		t.Name = entry.Name
		out = append(out, fileTarget{Target: t, line: item.Line})
	}
	return out, errors.Join(errs...)
}

// decodeStrict decodes a mapping node and refuses keys the struct lacks.
func decodeStrict(n *yaml.Node, v any) error {
	allowed := map[string]bool{"check": true, "target": true, "name": true}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if !allowed[k.Value] {
			return fmt.Errorf("unknown field %q (want check, target, name)", k.Value)
		}
		if val := n.Content[i+1]; val.Kind != yaml.ScalarNode {
			return fmt.Errorf("field %q: want a single value", k.Value)
		}
	}
	return n.Decode(v)
}
