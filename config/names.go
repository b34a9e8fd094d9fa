package config

import "strings"

// The DynamoGraphDeployment API (operator ≈0.5.0) and the labels the operator puts on what it creates.
const (
	Group        = "nvidia.com"
	Version      = "v1alpha1"
	APIVersion   = Group + "/" + Version
	KindDGD      = "DynamoGraphDeployment"
	ResourceDGD  = "dynamographdeployments"
	ShortNameDGD = "dgd"
	KindDCD      = "DynamoComponentDeployment"
	ResourceDCD  = "dynamocomponentdeployments"

	// Pod labels set by the operator on every pod of a DGD.
	LabelDGDName         = "nvidia.com/dynamo-graph-deployment-name"
	LabelComponent       = "nvidia.com/dynamo-component"      // the service key, e.g. SGLangWorker
	LabelComponentType   = "nvidia.com/dynamo-component-type" // frontend | worker
	LabelDynamoNamespace = "nvidia.com/dynamo-namespace"
	LabelSelector        = "nvidia.com/selector" // the DynamoComponentDeployment name
	LabelMetricsEnabled  = "nvidia.com/metrics-enabled"

	// MainContainerName is the name the operator gives the container that runs a service.
	MainContainerName = "main"

	// Annotations radix puts on what it renders, so the cluster layer knows where an object came from.
	AnnotationProfile     = "radix.radixops.io/profile"
	AnnotationOverrides   = "radix.radixops.io/overrides"    // JSON object of the overrides applied
	AnnotationAsPublished = "radix.radixops.io/as-published" // "true" when rendered with the defects kept

	// DGD status.state values.
	StatePending      = "pending"
	StateInitializing = "initializing"
	StateSuccessful   = "successful"
	StateFailed       = "failed"

	// Component types of spec.services.*.componentType.
	ComponentFrontend = "frontend"
	ComponentWorker   = "worker"
	ComponentPlanner  = "planner"
	ComponentMain     = "main"

	// DefaultNamespace is where the published blueprints and the Dynamo operator install live.
	DefaultNamespace = "dynamo-cloud"
	// PublishedScriptNamespace is the namespace the newer published deploy script uses instead.
	PublishedScriptNamespace = "dynamo-system"

	FrontendPort     = 8000 // the frontend's HTTP port, Service port name "http"
	SystemPort       = 9090 // a worker's system port: /live, /health, /metrics
	SystemPortName   = "system"
	HFTokenSecret    = "hf-token-secret"
	GPUResourceName  = "nvidia.com/gpu"
	NodePoolLabel    = "karpenter.sh/nodepool"
	DynamoNSEnv      = "DYNAMO_NAMESPACE" // what the SGLang worker 0.5.0 reads
	OperatorDynNSEnv = "DYN_NAMESPACE"    // what the operator sets
)

// Roles of a service in a profile: the component type, refined for disaggregated workers.
const (
	RoleFrontend = "frontend"
	RoleWorker   = "worker"
	RolePrefill  = "prefill"
	RoleDecode   = "decode"
)

// DCDName is the DynamoComponentDeployment (and apps/v1 Deployment) the operator makes for a service.
func DCDName(dgd, serviceKey string) string { return dgd + "-" + strings.ToLower(serviceKey) }

// FrontendServiceName is the only Service the operator creates for a DGD.
func FrontendServiceName(dgd string) string { return dgd + "-frontend" }
