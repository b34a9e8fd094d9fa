package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at link time with -ldflags "-X main.version=v0.1.0"; otherwise the module's build info speaks.
var version = ""

func init() {
	register(func(_ *globals) *cobra.Command {
		return &cobra.Command{
			Use:   "version",
			Short: "Print radix's version",
			Args:  cobra.NoArgs,
			Run: func(cmd *cobra.Command, _ []string) {
				v := version
				rev := ""
				if bi, ok := debug.ReadBuildInfo(); ok {
					if v == "" {
						v = bi.Main.Version
					}
					for _, s := range bi.Settings {
						if s.Key == "vcs.revision" && len(s.Value) >= 12 {
							rev = s.Value[:12]
						}
					}
				}
				if v == "" || v == "(devel)" {
					v = "devel"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "radix %s", v)
				if rev != "" {
					fmt.Fprintf(cmd.OutOrStdout(), " (%s)", rev)
				}
				fmt.Fprintf(cmd.OutOrStdout(), " %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
			},
		}
	})
}
