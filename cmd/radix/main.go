// Command radix is the console for SGLang on NVIDIA Dynamo and the Go radix-cached worker runtime.
//
// This package only wires subcommands and flags; every behaviour lives in the packages it calls.
// Each subcommand file registers its constructor with register in an init function, so adding a verb
// touches one new file and nothing else.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// globals are the kubectl-style flags every subcommand sees.
type globals struct {
	Kubeconfig    string
	Context       string
	Namespace     string
	AllNamespaces bool
	Local         bool
	ReadOnly      bool
}

// commandCtor builds one subcommand; it reads the global flags through g at run time.
type commandCtor func(g *globals) *cobra.Command

var ctors []commandCtor

// register adds a subcommand constructor; called from init functions of the subcommand files.
func register(c commandCtor) { ctors = append(ctors, c) }

// consoleRun is set by the console's file; until then `radix` with no subcommand says so.
var consoleRun func(cmd *cobra.Command, g *globals) error

func newRootCmd() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "radix",
		Short: "A k9s-style console for SGLang on NVIDIA Dynamo, and a Go radix-cached worker runtime",
		Long: `radix lists and deploys SGLang DynamoGraphDeployments, tails their logs, shows GPU and
prefix-cache panels and chats with them — against a Kubernetes cluster, or with no cluster against the
embedded environment, where the same profiles run as local processes of radix's own runtime.

Run radix with no arguments to open the console.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if consoleRun == nil {
				return fmt.Errorf("the console is not built into this binary yet; see `radix --help` for the verbs that are")
			}
			return consoleRun(cmd, g)
		},
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.Kubeconfig, "kubeconfig", "", "path to the kubeconfig file (default $KUBECONFIG or ~/.kube/config)")
	pf.StringVar(&g.Context, "context", "", "the kubeconfig context to use")
	pf.StringVarP(&g.Namespace, "namespace", "n", "", "namespace (default from config.yaml, else dynamo-cloud)")
	pf.BoolVarP(&g.AllNamespaces, "all-namespaces", "A", false, "list across all namespaces")
	pf.BoolVar(&g.Local, "local", false, "use the embedded environment (local processes) even when a cluster is reachable")
	pf.BoolVar(&g.ReadOnly, "readonly", false, "disable every mutating action")
	for _, c := range ctors {
		root.AddCommand(c(g))
	}
	return root
}

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "radix:", err)
		os.Exit(1)
	}
}
