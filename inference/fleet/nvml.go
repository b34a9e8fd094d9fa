//go:build linux && (amd64 || arm64)

package fleet

import (
	"errors"
	"fmt"

	"github.com/ebitengine/purego"

	"github.com/radixops/radix/kube"
)

// The GPU panel reads a handful of NVML calls from libnvidia-ml.so.1, bound at run time with purego.
// go-nvml would do the same through cgo, but it wraps the whole NVML API and its cgo prologue prints
// about 150 deprecation warnings on every fresh build — the first thing a newcomer's `go run` would
// show — and it needs a C compiler. purego needs neither.

// nvmlMemory and nvmlUtilization mirror nvmlMemory_t and nvmlUtilization_t.
type nvmlMemory struct{ Total, Free, Used uint64 }
type nvmlUtilization struct{ GPU, Memory uint32 }

// nvmlLib is libnvidia-ml, loaded.
type nvmlLib struct {
	init     func() int32
	shutdown func() int32
	count    func(*uint32) int32
	handle   func(uint32, *uintptr) int32
	name     func(uintptr, *byte, uint32) int32
	memory   func(uintptr, *nvmlMemory) int32
	util     func(uintptr, *nvmlUtilization) int32
}

var errNoNVML = errors.New("no NVIDIA driver library")

// nvmlError names an nvmlReturn_t.
func nvmlError(ret int32) error {
	msg := map[int32]string{
		1: "not initialised", 2: "invalid argument", 3: "not supported", 4: "no permission",
		6: "not found", 9: "driver not loaded", 12: "library not found", 15: "GPU is lost",
		17: "operating system call failed", 18: "driver and library versions differ",
	}[ret]
	if msg == "" {
		msg = fmt.Sprintf("error %d", ret)
	}
	return errors.New("NVML: " + msg)
}

func openNVML() (*nvmlLib, error) {
	h, err := purego.Dlopen("libnvidia-ml.so.1", purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		return nil, errNoNVML
	}
	l := &nvmlLib{}
	for sym, fn := range map[string]any{
		"nvmlInit_v2": &l.init, "nvmlShutdown": &l.shutdown, "nvmlDeviceGetCount_v2": &l.count,
		"nvmlDeviceGetHandleByIndex_v2": &l.handle, "nvmlDeviceGetName": &l.name,
		"nvmlDeviceGetMemoryInfo": &l.memory, "nvmlDeviceGetUtilizationRates": &l.util,
	} {
		if _, err := purego.Dlsym(h, sym); err != nil {
			return nil, fmt.Errorf("libnvidia-ml lacks %s: %w", sym, err)
		}
		purego.RegisterLibFunc(fn, h, sym)
	}
	return l, nil
}

func (l *nvmlLib) Init() error {
	if ret := l.init(); ret != 0 {
		return nvmlError(ret)
	}
	return nil
}

func (l *nvmlLib) Shutdown() { l.shutdown() }

func (l *nvmlLib) Count() (int, error) {
	var n uint32
	if ret := l.count(&n); ret != 0 {
		return 0, nvmlError(ret)
	}
	return int(n), nil
}

func (l *nvmlLib) Device(i int) (nvmlDevice, error) {
	var h uintptr
	if ret := l.handle(uint32(i), &h); ret != 0 {
		return nvmlDevice{}, nvmlError(ret)
	}
	d := nvmlDevice{MemUsed: -1, MemTotal: -1, Util: -1}
	buf := make([]byte, 96) // NVML_DEVICE_NAME_V2_BUFFER_SIZE
	if l.name(h, &buf[0], uint32(len(buf))) == 0 {
		n := 0
		for n < len(buf) && buf[n] != 0 {
			n++
		}
		d.Name = string(buf[:n])
	}
	var m nvmlMemory
	if l.memory(h, &m) == 0 {
		d.MemUsed, d.MemTotal = float64(m.Used), float64(m.Total)
	}
	var u nvmlUtilization
	if l.util(h, &u) == 0 {
		d.Util = float64(u.GPU)
	}
	return d, nil
}

// localGPUs asks NVML for this machine's GPUs; with no driver library or no GPU it returns none and
// says why.
func localGPUs() ([]kube.GPUNode, string) {
	l, err := openNVML()
	if err != nil {
		return nil, err.Error()
	}
	return readNVML(l)
}
