// Package config holds what radix knows before it talks to anything: the settings file
// ($XDG_CONFIG_HOME/radix/config.yaml), the profile catalog (three SGLang blueprints embedded in the
// binary plus the user's own profiles, each extending a built-in one), the override keys and their
// validation, and the two things a profile turns into: a DynamoGraphDeployment object for a cluster
// (Render) and a local process plan for the embedded environment (LocalPlan).
//
// The data path is Profile → Resolve (overrides applied and validated) → Spec → Render → DGD.
// The DGD is a typed tree (the v1alpha1 shape of the published blueprints, radix's one model of a
// deployment) whose YAML is what a user reviews and whose Object() the cluster layer server-side
// applies, written as nvidia.com/v1beta1 (the default: components with a podTemplate whose "main"
// container holds what v1alpha1 spreads over a service) or nvidia.com/v1alpha1. ParseDGD and
// FromObject read both versions back into the model; CheckDefects inspects any DGD object, rendered
// here or found in a cluster, for the published blueprints' known defects and advice.
//
// Nothing here performs network or cluster I/O; the only files read are the settings file and the
// user profiles directory.
package config
