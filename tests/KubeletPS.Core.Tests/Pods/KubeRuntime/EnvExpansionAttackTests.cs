using k8s.Models;
using KubeletPS.Core.Pods.KubeRuntime;
using KubeletPS.Core.Pods.Network;
using KubeletPS.Core.Pods.Volumes;
using KubeletPS.Core.Tests.Support;
using Xunit.Abstractions;

namespace KubeletPS.Core.Tests.Pods.KubeRuntime;

/// <summary>
/// Attacks on $(VAR) expansion by a pod's author: each variable may reference the expanded ones before it, so
/// B=$(A)$(A), C=$(B)$(B), … doubles the value with every variable (a pod of a few KiB asks for 2^n times the first
/// value), and one argument may repeat a reference thousands of times. The kubelet must refuse the container
/// (CreateContainerConfigError) once a value passes what the kernel would pass to a process, not build it.
/// </summary>
public sealed class EnvExpansionAttackTests(ITestOutputHelper output) : IDisposable
{
    /// <summary>What refusing may cost; the doubling chain below built 128 Mi characters (256 MiB) before the bound.</summary>
    private const long AllocationBound = 16L * 1024 * 1024;

    private readonly string _root = Directory.CreateTempSubdirectory("kubeletps-env-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private PodRuntimeSpecs Specs() => new(_root, _root, new PodDns([], "", null, NullKubeletLog.Instance), null);

    private static V1Pod Pod(V1Container container) => new()
    {
        Metadata = new V1ObjectMeta { Name = "doubling", NamespaceProperty = "default", Uid = "0b6f2c1e-3d4a-4f5b-8c7d-9e0f1a2b3c4d" },
        Spec = new V1PodSpec { Containers = [container] },
    };

    private ContainerConfigException Refused(Action build) => AttackCost.Refused<ContainerConfigException>(build, AllocationBound, output, out _);

    [Fact]
    public void A_doubling_chain_of_variables_is_refused_at_the_variable_that_passes_the_bound()
    {
        // 1 KiB doubled by 17 variables: 128 Mi characters in V17.
        List<V1EnvVar> env = [new() { Name = "V0", Value = new string('x', 1024) }];
        for (var i = 1; i <= 17; i++) env.Add(new V1EnvVar { Name = $"V{i}", Value = $"$(V{i - 1})$(V{i - 1})" });
        var container = new V1Container { Name = "app", Image = "busybox", Env = env };
        var e = Refused(() => Specs().BuildEnv(Pod(container), container, null));
        // 1 KiB × 2^7 = 128 KiB is still allowed; V8 (256 KiB) is where it stops.
        Assert.Contains("container \"app\": env V8", e.Message, StringComparison.Ordinal);
        Assert.Contains("MAX_ARG_STRLEN", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_argument_repeating_a_reference_is_refused()
    {
        var container = new V1Container
        {
            Name = "app",
            Image = "busybox",
            Env = [new() { Name = "BIG", Value = new string('y', 100 * 1024) }],
            Args = [string.Concat(Enumerable.Repeat("$(BIG)", 1000))],
        };
        var e = Refused(() => Specs().Container(Pod(container), container, false, 0, "busybox", null, new Dictionary<string, string>()));
        Assert.Contains("container \"app\": args", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Expansion_up_to_the_bound_is_kept_as_kubelet_expands_it()
    {
        var value = new string('z', EnvExpansion.MaxExpandedLength / 2);
        Assert.Equal(value + value, EnvExpansion.Expand("$(A)$(A)", n => n == "A" ? value : null));
        Assert.Equal("$(MISSING)$$x", EnvExpansion.Expand("$(MISSING)$$$$x", _ => null));
    }
}
