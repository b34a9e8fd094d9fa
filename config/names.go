package config

import "strings"

// The DynamoGraphDeployment API and the labels the operator puts on what it creates.
const (
	Group = "nvidia.com"
	// The two served versions: v1alpha1 (operator 0.5 and, deprecated, current ones) and v1beta1 (the
	// storage version of current operators, REFERENCE §9). radix renders v1beta1 unless told otherwise.
	VersionV1Alpha1    = "v1alpha1"
	VersionV1Beta1     = "v1beta1"
	APIVersionV1Alpha1 = Group + "/" + VersionV1Alpha1
	APIVersionV1Beta1  = Group + "/" + VersionV1Beta1
	DefaultVersion     = VersionV1Beta1

	// Version and APIVersion are the version of the published blueprints (v1alpha1).
	Version    = VersionV1Alpha1
	APIVersion = APIVersionV1Alpha1

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
	// On v1beta1, disaggregated workers are component types of their own.
	ComponentPrefill = "prefill"
	ComponentDecode  = "decode"

	// DefaultNamespace is where the published blueprints and their deploy script put the workloads.
	DefaultNamespace = "dynamo-cloud"
	// PlatformNamespace is where current NVIDIA docs install the operator and its webhook; workloads
	// may live in any namespace.
	PlatformNamespace = "dynamo-system"

	FrontendPort     = 8000 // the frontend's HTTP port, Service port name "http"
	SystemPort       = 9090 // a worker's system port: /live, /health, /metrics
	SystemPortName   = "system"
	HFTokenSecret    = "hf-token-secret"
	GPUResourceName  = "nvidia.com/gpu"
	NodePoolLabel    = "karpenter.sh/nodepool"
	OperatorDynNSEnv = "DYN_NAMESPACE" // the Dynamo namespace, set by the operator; what the SGLang worker reads
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
