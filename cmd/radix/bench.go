package main

import "github.com/spf13/cobra"

// benchSubs are the `radix bench` verbs (model, serve); their files append to it in init.
var benchSubs []commandCtor

func init() {
	register(func(g *globals) *cobra.Command {
		c := &cobra.Command{
			Use:   "bench",
			Short: "Benchmarks: the model's kernels (bench model) and a serving load generator (bench serve)",
		}
		for _, s := range benchSubs {
			c.AddCommand(s(g))
		}
		return c
	})
}
