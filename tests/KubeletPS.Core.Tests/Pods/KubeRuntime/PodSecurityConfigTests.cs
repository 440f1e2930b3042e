using static KubeletPS.Core.Tests.Pods.KubeRuntime.PodSecurityContextTests;

namespace KubeletPS.Core.Tests.Pods.KubeRuntime;

/// <summary>The KubeletConfiguration fields about pod security (seccompDefault, allowedUnsafeSysctls) in effect on a real containerd.</summary>
[Collection(PodSyncCollection.Name)]
public sealed class PodSecurityConfigTests(PodSyncFixture fixture)
{
    [Fact]
    public async Task Seccomp_default_gives_an_unset_profile_the_runtime_default()
    {
        await using var h = fixture.NewAgent(options: o => o with { SeccompDefault = true });
        h.Write("sd-unset.yaml", Pod("sd-unset", "grep '^Seccomp:' /proc/self/status"));
        h.Write("sd-unconfined.yaml", Pod("sd-unconfined", "grep '^Seccomp:' /proc/self/status", containerSecurity: "{seccompProfile: {type: Unconfined}}"));
        Assert.Equal("Seccomp:\t2", (await OutputAsync(h, "sd-unset")).Trim());
        Assert.Equal("Seccomp:\t0", (await OutputAsync(h, "sd-unconfined")).Trim());
    }

    [Fact]
    public async Task Allowed_unsafe_sysctls_admits_matching_names_only()
    {
        await using var h = fixture.NewAgent(options: o => o with { AllowedUnsafeSysctls = ["kernel.msg*"] });
        h.Write("unsafe-ok.yaml", Pod("unsafe-ok", "cat /proc/sys/kernel/msgmax", podSecurity: "{sysctls: [{name: kernel.msgmax, value: '12345'}]}"));
        h.Write("unsafe-ipc.yaml", Pod("unsafe-ipc", "true", podSecurity: "{sysctls: [{name: kernel.msgmax, value: '12345'}]}", extraSpec: "  hostIPC: true"));
        h.Write("unsafe-no.yaml", Pod("unsafe-no", "true", podSecurity: "{sysctls: [{name: kernel.sem, value: '250 32000 32 128'}]}"));
        Assert.Equal("12345", (await OutputAsync(h, "unsafe-ok")).Trim());
        Assert.Equal("Pod was rejected: forbidden sysctl: \"kernel.msgmax\" not allowed with host ipc enabled", (await RejectedAsync(h, "unsafe-ipc")).Message);
        Assert.Equal("Pod was rejected: forbidden sysctl: \"kernel.sem\" not allowlisted", (await RejectedAsync(h, "unsafe-no")).Message);
    }
}
