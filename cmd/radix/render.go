package main

import (
	"fmt"

	"github.com/radixops/radix/config"
	"github.com/spf13/cobra"
)

func init() {
	register(func(g *globals) *cobra.Command {
		var (
			name        string
			sets        []string
			asPublished bool
			output      string
			apiVersion  string
		)
		c := &cobra.Command{
			Use:   "render PROFILE",
			Short: "Print the DynamoGraphDeployment a profile deploys (YAML or JSON)",
			Long: `Render a profile (built-in or from $XDG_CONFIG_HOME/radix/profiles/) with overrides into the
DynamoGraphDeployment that radix would apply. By default the published blueprints' known defects are
fixed, every service gets probes that check Dynamo's health endpoints, and the YAML header lists each
change; --as-published keeps the blueprint as published.

--api-version picks the DynamoGraphDeployment version: v1beta1 (the default; the storage version of
current Dynamo operators) or v1alpha1 (Dynamo 0.5 and older operators). A v1beta1 render is the
v1alpha1 one translated as the operator does (services become components, resources, env, the secret
and probes move into the podTemplate's "main" container), with prefill and decode workers typed as
such. --as-published renders v1alpha1, the version of the published files, unless --api-version is
given.

Override keys (--set key=value, repeatable; the same keys work in user profiles):

` + config.KeysHelp(),
			Example: `  radix render sglang-router
  radix render sglang-disaggregated-default --set page-size=32 --set decode.replicas=2
  radix render sglang-aggregated-default --name my-llama --set model=meta-llama/Llama-3.1-8B-Instruct -o json
  radix render sglang-router --as-published
  radix render sglang-router --api-version v1alpha1`,
			Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				overrides, err := config.ParseSets(sets)
				if err != nil {
					return err
				}
				if err := mergeFlag(overrides, "name", name, "--name"); err != nil {
					return err
				}
				if err := mergeFlag(overrides, "namespace", g.Namespace, "-n/--namespace"); err != nil {
					return err
				}
				if output != "yaml" && output != "json" {
					return fmt.Errorf("-o %q: want yaml or json", output)
				}
				if apiVersion != config.VersionV1Alpha1 && apiVersion != config.VersionV1Beta1 {
					return fmt.Errorf("--api-version %q: want %s or %s", apiVersion, config.VersionV1Beta1, config.VersionV1Alpha1)
				}
				spec, err := config.Resolve(args[0], overrides)
				if err != nil {
					return err
				}
				opts := config.RenderOptions{AsPublished: asPublished}
				if cmd.Flags().Changed("api-version") || !asPublished {
					opts.APIVersion = apiVersion
				}
				d, _, err := config.Render(spec, opts)
				if err != nil {
					return err
				}
				var out []byte
				if output == "json" {
					out, err = d.JSON()
				} else {
					out, err = d.YAML()
				}
				if err != nil {
					return err
				}
				_, err = cmd.OutOrStdout().Write(out)
				return err
			},
		}
		f := c.Flags()
		f.StringVar(&name, "name", "", "name of the DynamoGraphDeployment (same as --set name=N; default: the profile's name)")
		f.StringArrayVar(&sets, "set", nil, "override key=value (repeatable; keys below)")
		f.BoolVar(&asPublished, "as-published", false, "render the blueprint as published, known defects included")
		f.StringVarP(&output, "output", "o", "yaml", "output format: yaml or json")
		f.StringVar(&apiVersion, "api-version", config.DefaultVersion, "DynamoGraphDeployment version: v1beta1 or v1alpha1 (--as-published: v1alpha1 unless given)")
		return c
	})
}

// mergeFlag folds a flag that is shorthand for an override key into the overrides; giving both with
// different values is an error rather than a silent choice.
func mergeFlag(overrides map[string]string, key, value, flag string) error {
	if value == "" {
		return nil
	}
	if old, ok := overrides[key]; ok && old != value {
		return fmt.Errorf("%s %q and --set %s=%s disagree: give one", flag, value, key, old)
	}
	overrides[key] = value
	return nil
}
