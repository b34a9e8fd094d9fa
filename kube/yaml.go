package kube

import (
	"bytes"
	"fmt"

	yamlv3 "go.yaml.in/yaml/v3"
)

// toYAML renders unstructured content for people: two-space indent, keys sorted, and long strings
// (a worker's one-line args) never folded, so a diff shows the whole changed line.
func toYAML(v any) (string, error) {
	var b bytes.Buffer
	enc := yamlv3.NewEncoder(&b)
	enc.SetIndent(2)
	enc.CompactSeqIndent()
	if err := enc.Encode(v); err != nil {
		return "", fmt.Errorf("encoding YAML: %w", err)
	}
	if err := enc.Close(); err != nil {
		return "", fmt.Errorf("encoding YAML: %w", err)
	}
	return b.String(), nil
}
