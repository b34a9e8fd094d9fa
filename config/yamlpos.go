package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// The settings file and user profiles are read through goccy/go-yaml's AST because every error in
// them must name the file, line and column; these helpers keep that in one place.

// PosError is an error at a place in a YAML file.
type PosError struct {
	File         string
	Line, Column int
	Msg          string
	Err          error // the underlying error, when there is one
}

func (e *PosError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

func (e *PosError) Unwrap() error { return e.Err }

// tokenError is what every goccy error type implements.
type tokenError interface {
	GetToken() *token.Token
	GetMessage() string
}

// yamlError turns a goccy error into a PosError for file.
func yamlError(file string, err error) error {
	var te tokenError
	if errors.As(err, &te) {
		pe := &PosError{File: file, Msg: te.GetMessage(), Err: err}
		if t := te.GetToken(); t != nil && t.Position != nil {
			pe.Line, pe.Column = t.Position.Line, t.Position.Column
		}
		return pe
	}
	return &PosError{File: file, Msg: err.Error(), Err: err}
}

// nodeWhere is "file:line:col" of a node.
func nodeWhere(file string, n ast.Node) string {
	return strings.TrimSuffix(nodeError(file, n, "").Error(), ": ")
}

func nodeError(file string, n ast.Node, format string, args ...any) *PosError {
	pe := &PosError{File: file, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		if t := n.GetToken(); t != nil && t.Position != nil {
			pe.Line, pe.Column = t.Position.Line, t.Position.Column
		}
	}
	return pe
}

// parseYAMLDoc parses data as at most one YAML document and returns its top node (nil when empty).
func parseYAMLDoc(file string, data []byte) (node ast.Node, err error) {
	defer func() {
		// The parser is outside code fed with user files: a panic in it must become an error.
		if r := recover(); r != nil {
			node, err = nil, &PosError{File: file, Msg: fmt.Sprintf("cannot parse YAML: %v", r)}
		}
	}()
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, yamlError(file, err)
	}
	var body ast.Node
	for i, d := range f.Docs {
		if d == nil || d.Body == nil {
			continue
		}
		if _, isComment := d.Body.(*ast.CommentGroupNode); isComment {
			continue
		}
		if body != nil {
			return nil, nodeError(file, d.Body, "more than one YAML document (document %d): put everything in one", i+1)
		}
		body = d.Body
	}
	return body, nil
}

// mapPairs returns the key/value pairs of a mapping node, or an error saying a mapping was expected.
func mapPairs(file string, n ast.Node, what string) ([]*ast.MappingValueNode, error) {
	switch m := n.(type) {
	case *ast.MappingNode:
		return m.Values, nil
	case *ast.MappingValueNode:
		return []*ast.MappingValueNode{m}, nil
	}
	return nil, nodeError(file, n, "%s must be a mapping of key: value, not %s", what, nodeKind(n))
}

func nodeKind(n ast.Node) string {
	switch n.(type) {
	case *ast.SequenceNode:
		return "a list"
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.NullNode:
		return "empty"
	}
	return "a single value"
}

// keyString is the text of a mapping key.
func keyString(p *ast.MappingValueNode) string {
	if s, ok := p.Key.(*ast.StringNode); ok {
		return s.Value
	}
	if t := p.Key.GetToken(); t != nil {
		return t.Value
	}
	return strings.TrimSpace(p.Key.String())
}

// scalarString is the text of a plain scalar (string, number or bool) as written.
func scalarString(file string, n ast.Node, what string) (string, error) {
	for {
		tn, ok := n.(*ast.TagNode)
		if !ok {
			break
		}
		n = tn.Value
	}
	switch s := n.(type) {
	case *ast.StringNode:
		return s.Value, nil
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		return s.GetToken().Value, nil
	case nil, *ast.NullNode:
		return "", nodeError(file, n, "%s needs a value", what)
	}
	return "", nodeError(file, n, "%s must be a single value, not %s", what, nodeKind(n))
}
