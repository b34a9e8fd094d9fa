// Package corpus writes the training corpus of radix's demo model: short assistant dialogues about
// SGLang, RadixAttention and prefix caching, Dynamo's deployment shapes, the Kubernetes operations of the
// blueprint README, this console's keys and commands, general machine-learning questions, and arithmetic
// word problems in the style of the blueprint's test prompt.
//
// The corpus is generated, not collected: every dialogue is built from templates written here, with
// seeded choices, so anyone can regenerate exactly the text the committed demo model was trained on.
// A different seed gives the held-out set.
package corpus

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
)

// Message is one turn of a dialogue.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Dialogue is one training example.
type Dialogue struct {
	Topic    string    `json:"topic"`
	Messages []Message `json:"messages"`
}

// gen holds the seeded source every template draws from.
type gen struct{ r *rand.Rand }

func (g *gen) pick(options ...string) string { return options[g.r.IntN(len(options))] }

// sentences joins a required first sentence with a few optional ones, in order, so answers vary in
// length but always stay coherent.
func (g *gen) sentences(first string, optional ...string) string {
	out := []string{first}
	for _, s := range optional {
		if g.r.IntN(3) > 0 {
			out = append(out, s)
		}
	}
	return strings.Join(out, " ")
}

var systemPrompts = []string{
	"You are a helpful assistant.",
	"You are a helpful assistant for operators of SGLang on NVIDIA Dynamo.",
	"You are radix, a concise assistant that explains LLM serving.",
	"Answer briefly and accurately.",
}

// topic builds one dialogue's question and answer.
type topic struct {
	name string
	qa   func(g *gen) (q, a string)
}

var topics = []topic{
	{"ml", func(g *gen) (string, string) {
		q := g.pick("What is machine learning?", "Can you explain machine learning?", "What is machine learning, in simple terms?", "Explain machine learning to a beginner.")
		a := g.sentences(
			g.pick("Machine learning is a field of computer science in which programs learn patterns from data instead of following rules written by hand.",
				"Machine learning is a way of building software that improves from examples: a model is trained on data and then makes predictions on new data."),
			"A model has parameters that are adjusted during training to reduce its error on the examples it sees.",
			g.pick("Common kinds are supervised learning, where each example has a label, unsupervised learning, which finds structure in unlabeled data, and reinforcement learning, which learns from rewards.",
				"It is used for tasks such as image recognition, translation, recommendation and text generation."),
			"Large language models are machine learning models trained to predict the next token of text.")
		return q, a
	}},
	{"llm", func(g *gen) (string, string) {
		q := g.pick("What is a large language model?", "How does a language model generate text?", "What is a token?", "What is inference?")
		switch {
		case strings.Contains(q, "token?"):
			return q, g.sentences("A token is a piece of text, such as a word or part of a word, that a language model reads and writes.",
				"A tokenizer turns text into token ids and back.", "Models are priced and measured in tokens per second.")
		case strings.Contains(q, "inference"):
			return q, g.sentences("Inference is running a trained model to produce outputs, for example generating a reply to a prompt.",
				"For a language model it has two phases: prefill, which processes the prompt, and decode, which generates one token at a time.",
				"Serving engines such as SGLang make inference fast by batching requests and reusing the KV cache.")
		}
		return q, g.sentences("A large language model is a neural network trained on a lot of text to predict the next token.",
			"It generates text one token at a time, feeding each new token back in as input.",
			"Attention lets each token look at all the tokens before it, and the keys and values of those tokens are kept in the KV cache so they are not computed again.")
	}},
	{"sglang", func(g *gen) (string, string) {
		q := g.pick("What is SGLang?", "Why use SGLang?", "What does SGLang do?", "Tell me about SGLang.")
		return q, g.sentences("SGLang is a fast serving engine for large language models.",
			"Its runtime uses RadixAttention to reuse the KV cache of shared prompt prefixes across requests.",
			"It schedules requests with continuous batching and supports chunked prefill, tensor parallelism and disaggregated prefill and decode.",
			"It exposes an OpenAI-compatible API, so existing clients work unchanged.")
	}},
	{"radix", func(g *gen) (string, string) {
		q := g.pick("What is RadixAttention?", "How does prefix caching work?", "What is a radix tree used for in SGLang?", "Why is prefix caching faster?")
		return q, g.sentences("RadixAttention keeps the KV cache of finished requests in a radix tree keyed by token ids.",
			"When a new request arrives, the scheduler finds the longest cached prefix of its prompt and only computes the tokens after it.",
			"Requests that share a system prompt or earlier turns of a conversation therefore skip most of their prefill, which lowers time to first token.",
			"When memory runs out, the least recently used leaves of the tree are evicted.",
			"The response reports the reused part as cached tokens.")
	}},
	{"cachehit", func(g *gen) (string, string) {
		q := g.pick("How do I check the cache hit rate?", "How can I see if prefix caching works?", "Where do I see cached tokens?")
		return q, g.sentences("Look at the worker logs for lines that start with Prefill batch: the #cached-token field counts prompt tokens served from the cache.",
			"You can run grep -i cache on the logs, or open the prefix-cache panel with :cache in radix.",
			"The sglang:cached_tokens_total and sglang:prompt_tokens_total counters give the honest hit rate.",
			"Sending the same prompt twice should show cached tokens on the second request.")
	}},
	{"agg", func(g *gen) (string, string) {
		q := g.pick("What is the aggregated deployment?", "What does sglang-aggregated-default deploy?", "Describe the aggregated profile.")
		return q, g.sentences("The aggregated profile runs one frontend and one SGLang worker that does both prefill and decode on one GPU.",
			"The frontend serves the OpenAI API on port 8000 and forwards requests to the worker.",
			"It is the simplest way to serve a model and the best place to start.")
	}},
	{"disagg", func(g *gen) (string, string) {
		q := g.pick("What is disaggregated serving?", "How do prefill and decode workers work together?", "Describe the disaggregated profile.")
		return q, g.sentences("Disaggregated serving splits a request between a prefill worker and a decode worker.",
			"The prefill worker computes the prompt's KV cache and sends it to the decode worker, which then generates the reply token by token.",
			"Separating the phases keeps long prompts from slowing down the tokens of other requests.",
			"In Dynamo the KV transfer uses NIXL between GPUs.")
	}},
	{"router", func(g *gen) (string, string) {
		q := g.pick("What does the KV-aware router do?", "How does the sglang-router profile route requests?", "Why use KV routing?")
		return q, g.sentences("The KV-aware router sends each request to the worker that already holds the most of its prefix in cache, balanced against how busy each worker is.",
			"Its cost is the overlap score weight times the prefill blocks plus the decode blocks, and the lowest cost wins.",
			"Workers publish KV events when they store or remove cache blocks, so the router knows what each one holds.",
			"With two workers, the later turns of a conversation go back to the worker that served the first turn.")
	}},
	{"kube", func(g *gen) (string, string) {
		svc := g.pick("sglang-agg", "sglang-disagg", "sglang-router")
		switch g.r.IntN(4) {
		case 0:
			return "How do I reach the frontend from my laptop?", g.sentences(
				fmt.Sprintf("Run kubectl port-forward svc/%s-frontend 8000:8000 -n dynamo-cloud, then send requests to http://localhost:8000.", svc),
				"In radix, press shift-f on a deployment to open a port-forward, or use the chat pane, which opens one for you.")
		case 1:
			return "How do I check that the deployment is healthy?", g.sentences(
				"Call the health endpoint: curl localhost:8000/health returns healthy with the list of endpoints once a worker has registered.",
				"Before that it answers unhealthy with No endpoints available.",
				"You can also check that the pods are running with kubectl get pods -n dynamo-cloud.")
		case 2:
			return "How do I see the worker logs?", g.sentences(
				fmt.Sprintf("Run kubectl logs -n dynamo-cloud -l nvidia.com/dynamo-graph-deployment-name=%s -f to follow every pod of the deployment.", svc),
				"In radix, select the deployment and press l: the logs of all pods are merged, and the cache filter shows only cache lines.")
		}
		return "How do I list my deployments?", g.sentences(
			"Run kubectl get dynamographdeployments -n dynamo-cloud, or kubectl get dgd for short.",
			"In radix the home view lists them live with their state, model and ready replicas.")
	}},
	{"console", func(g *gen) (string, string) {
		switch g.r.IntN(6) {
		case 0:
			return "How do I deploy a profile in radix?", "Type :deploy, choose a profile such as sglang-aggregated-default, adjust the overrides, review the YAML and press enter to apply. On the first screen, one key deploys the aggregated profile."
		case 1:
			return "How do I filter logs in radix?", "Open the logs with l, then press / and type a regular expression. Start it with ! to hide matching lines. The presets cache, register, errors and disagg are one key away."
		case 2:
			return "What are the radix keys?", "Press ? for help. The main keys are enter to open a deployment, l for logs, y for YAML, ctrl-d to delete, : for commands such as :cache, :gpu, :chat and :deploy, and / to filter."
		case 3:
			return "How do I switch namespaces in radix?", "Type :ns and pick a namespace, press 0 for all namespaces, or press 1 to 9 for your favourite namespaces."
		case 4:
			return "How do I quit radix?", "Type :q or press ctrl-c."
		}
		return "How do I run the cache test?", "Run radix cache-test with the deployment name. It sends the same system and user prompt three times and shows the time to first token and the cached tokens of each run, so you can see the speedup from prefix caching."
	}},
	{"math", func(g *gen) (string, string) { return g.wordProblem() }},
}

// wordProblem writes an arithmetic question in the style of the blueprint's test prompt, with its
// worked answer; the numbers are chosen so every result is a whole number.
func (g *gen) wordProblem() (string, string) {
	switch g.r.IntN(4) {
	case 0:
		t := 1 + g.r.IntN(6)
		v := 10 * (2 + g.r.IntN(9))
		d := v * t
		vehicle := g.pick("train", "car", "bus", "truck")
		return fmt.Sprintf("If a %s travels %d miles in %d hours, what is its average speed?", vehicle, d, t),
			fmt.Sprintf("Average speed is distance divided by time. The %s travels %d miles in %d hours, so its average speed is %d ÷ %d = %d miles per hour.", vehicle, d, t, d, t, v)
	case 1:
		n := 2 + g.r.IntN(9)
		p := 1 + g.r.IntN(12)
		item := g.pick("apples", "pencils", "books", "tickets")
		return fmt.Sprintf("If one of the %s costs %d dollars, how much do %d cost?", item, p, n),
			fmt.Sprintf("Multiply the price by the number of %s: %d × %d = %d dollars.", item, p, n, p*n)
	case 2:
		a := 10 + g.r.IntN(90)
		b := 1 + g.r.IntN(a)
		return fmt.Sprintf("A server had %d requests waiting and finished %d of them. How many are still waiting?", a, b),
			fmt.Sprintf("Subtract the finished requests from the waiting ones: %d − %d = %d requests are still waiting.", a, b, a-b)
	}
	h := 2 + g.r.IntN(8)
	r := 5 * (1 + g.r.IntN(20))
	return fmt.Sprintf("A worker generates %d tokens per second. How many tokens does it generate in %d seconds?", r, h),
		fmt.Sprintf("Multiply the rate by the time: %d tokens per second × %d seconds = %d tokens.", r, h, r*h)
}

// Generate returns n dialogues drawn with seed; the same seed always gives the same dialogues.
// About one in five is a two-turn conversation, so the model also sees earlier turns in context.
func Generate(seed uint64, n int) []Dialogue {
	g := &gen{r: rand.New(rand.NewPCG(seed, 0x5241444958))}
	out := make([]Dialogue, 0, n)
	for range n {
		t := topics[g.r.IntN(len(topics))]
		var msgs []Message
		if g.r.IntN(2) == 0 {
			msgs = append(msgs, Message{"system", systemPrompts[g.r.IntN(len(systemPrompts))]})
		}
		q, a := t.qa(g)
		msgs = append(msgs, Message{"user", q}, Message{"assistant", a})
		if g.r.IntN(5) == 0 {
			t2 := topics[g.r.IntN(len(topics))]
			q2, a2 := t2.qa(g)
			msgs = append(msgs, Message{"user", q2}, Message{"assistant", a2})
		}
		out = append(out, Dialogue{Topic: t.name, Messages: msgs})
	}
	return out
}

// WriteJSONL writes dialogues one JSON object per line, the format the training script reads.
func WriteJSONL(w io.Writer, ds []Dialogue) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for i := range ds {
		if err := enc.Encode(&ds[i]); err != nil {
			return fmt.Errorf("writing dialogue %d: %w", i, err)
		}
	}
	return nil
}
