package telemetry

// SGLang's own metric names (exposed with --enable-metrics). Gauges unless noted.
const (
	SGLangNumRunningReqs    = "sglang:num_running_reqs"
	SGLangNumUsedTokens     = "sglang:num_used_tokens"
	SGLangTokenUsage        = "sglang:token_usage"
	SGLangNumQueueReqs      = "sglang:num_queue_reqs"
	SGLangGenThroughput     = "sglang:gen_throughput"
	SGLangCacheHitRate      = "sglang:cache_hit_rate"
	SGLangMaxTotalNumTokens = "sglang:max_total_num_tokens"

	// Counters. The cached/prompt pair is the honest source of a hit rate: the gauge above is per
	// prefill batch and resets.
	SGLangPromptTokensTotal         = "sglang:prompt_tokens_total"
	SGLangGenerationTokensTotal     = "sglang:generation_tokens_total"
	SGLangCachedTokensTotal         = "sglang:cached_tokens_total" // current SGLang: one series per cache_source
	SGLangNumRequestsTotal          = "sglang:num_requests_total"
	SGLangNumAbortedRequestsTotal   = "sglang:num_aborted_requests_total"
	SGLangEvictedTokensTotal        = "sglang:evicted_tokens_total"
	SGLangNumRetractedRequestsTotal = "sglang:num_retracted_requests_total"
	SGLangTimeToFirstTokenSeconds   = "sglang:time_to_first_token_seconds" // histogram
	SGLangInterTokenLatencySeconds  = "sglang:inter_token_latency_seconds" // histogram
	SGLangE2ERequestLatencySeconds  = "sglang:e2e_request_latency_seconds" // histogram
)

// Dynamo worker metrics (system port 9090). The kvstats names are 0.5.0's (removed since); the
// current operator's workers expose total_blocks, gpu_cache_usage_percent and kv_cache_hit_rate.
const (
	DynamoComponentRequestsTotal              = "dynamo_component_requests_total"
	DynamoComponentInflightRequests           = "dynamo_component_inflight_requests"
	DynamoComponentTotalBlocks                = "dynamo_component_total_blocks"
	DynamoComponentGPUCacheUsagePercent       = "dynamo_component_gpu_cache_usage_percent"
	DynamoComponentKVCacheHitRate             = "dynamo_component_kv_cache_hit_rate"
	DynamoComponentModelLoadTimeSeconds       = "dynamo_component_model_load_time_seconds"
	DynamoComponentKVStatsActiveBlocks        = "dynamo_component_kvstats_active_blocks"
	DynamoComponentKVStatsTotalBlocks         = "dynamo_component_kvstats_total_blocks"
	DynamoComponentKVStatsGPUCacheUsagePct    = "dynamo_component_kvstats_gpu_cache_usage_percent"
	DynamoComponentKVStatsGPUPrefixCacheHitRt = "dynamo_component_kvstats_gpu_prefix_cache_hit_rate"
)

// Dynamo frontend metrics.
const (
	DynamoFrontendRequestsTotal            = "dynamo_frontend_requests_total" // labels model, endpoint, request_type, status (and error_type, current)
	DynamoFrontendInflightRequests         = "dynamo_frontend_inflight_requests"
	DynamoFrontendRequestDurationSeconds   = "dynamo_frontend_request_duration_seconds"
	DynamoFrontendInputSequenceTokens      = "dynamo_frontend_input_sequence_tokens"
	DynamoFrontendOutputSequenceTokens     = "dynamo_frontend_output_sequence_tokens"
	DynamoFrontendTimeToFirstTokenSeconds  = "dynamo_frontend_time_to_first_token_seconds"
	DynamoFrontendInterTokenLatencySeconds = "dynamo_frontend_inter_token_latency_seconds"
)
