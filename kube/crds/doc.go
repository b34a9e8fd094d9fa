// Package crds embeds the CustomResourceDefinitions radix's tests install into a real API server: the
// Dynamo operator's DynamoGraphDeployment and DynamoComponentDeployment (nvidia.com/v1alpha1, operator
// ≈0.5.0), written here from the operator's published API (group, kinds, plural and short names, scope,
// status subresource). The schemas keep unknown fields, as the operator's own CRD does for the parts
// radix does not validate, so any blueprint the operator accepts is accepted here too.
package crds

import "embed"

// FS holds the CRD manifests, one YAML document per file.
//
//go:embed *.yaml
var FS embed.FS
