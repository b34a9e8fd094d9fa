package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/radixops/radix/config"
	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"
)

func init() {
	register(func(_ *globals) *cobra.Command {
		var output string
		c := &cobra.Command{
			Use:   "profiles",
			Short: "List the deployment profiles: the built-in blueprints and your own",
			Long: `List the profiles radix can deploy or render: the built-in SGLang blueprints, then the user
profiles in $XDG_CONFIG_HOME/radix/profiles/*.yaml, each of which extends a built-in one:

  extends: sglang-router
  description: Qwen3 with 32-token pages
  overrides:
    page-size: 32
    SGLangWorker.replicas: 4`,
			Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				ps, err := config.Profiles()
				if err != nil {
					return err
				}
				w := cmd.OutOrStdout()
				switch output {
				case "json":
					b, err := json.MarshalIndent(ps, "", "  ")
					if err != nil {
						return fmt.Errorf("encoding profiles: %w", err)
					}
					_, err = fmt.Fprintf(w, "%s\n", b)
					return err
				case "yaml":
					b, err := yaml.Marshal(ps)
					if err != nil {
						return fmt.Errorf("encoding profiles: %w", err)
					}
					_, err = w.Write(b)
					return err
				case "table", "":
					tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "NAME\tDESCRIPTION\tSERVICES")
					for _, p := range ps {
						desc := p.Description
						if !p.Builtin {
							desc += " (extends " + p.Extends + ")"
						}
						fmt.Fprintf(tw, "%s\t%s\t%s\n", p.Name, desc, strings.Join(p.Services, ", "))
					}
					return tw.Flush()
				}
				return fmt.Errorf("-o %q: want table, json or yaml", output)
			},
		}
		c.Flags().StringVarP(&output, "output", "o", "table", "output format: table, json or yaml")
		return c
	})
}
