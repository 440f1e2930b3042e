using k8s.Models;
using KubeletPS.Core.Pods.Admission;
using KubeletPS.Core.Pods.KubeRuntime;
using KubeletPS.Core.Pods.Network;
using KubeletPS.Core.Pods.Volumes;
using KubeletPS.Core.Runtime;
using KubeletPS.Core.Runtime.Remote;
using KubeletPS.Core.Tests.Pods.Admission;
using Cri = KubeletPS.Core.Runtime.Cri;

namespace KubeletPS.Core.Tests.Pods.KubeRuntime;

/// <summary>
/// Every property of V1PodSecurityContext and V1SecurityContext in the KubernetesClient model, each with a pod that sets
/// it and what must follow: the field reaches the CRI request, or the pod is refused (at admission or as
/// CreateContainerConfigError) saying why. A property the model gains without a row here fails the coverage test.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class SecurityContextFieldTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "kps-scf-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    /// <summary>What the agent made of a pod: the admission decision, else the CRI requests or the container config error.</summary>
    internal sealed record Outcome(AdmissionResult Admission, Cri.PodSandboxConfig? Sandbox, Cri.ContainerConfig? Container, string? ConfigError, V1Pod Pod, string Root);

    private sealed record Row(string PodSecurity, string ContainerSecurity, Action<Outcome> Check, long? ImageUid = 1000);

    private static void Refused(Outcome o, string reason, string field)
    {
        Assert.False(o.Admission.Admitted, "the pod was admitted");
        Assert.Equal(reason, o.Admission.Reason);
        Assert.Contains(field, o.Admission.Message, StringComparison.Ordinal);
    }

    private static Cri.LinuxContainerSecurityContext C(Outcome o) =>
        o.Container?.Linux.SecurityContext ?? throw new Xunit.Sdk.XunitException($"no container config: {o.Admission.Message ?? o.ConfigError}");

    private static Cri.LinuxSandboxSecurityContext S(Outcome o) =>
        o.Sandbox?.Linux.SecurityContext ?? throw new Xunit.Sdk.XunitException($"no sandbox config: {o.Admission.Message ?? o.ConfigError}");

    private static readonly Dictionary<string, Row> Rows = new()
    {
        ["V1PodSecurityContext.AppArmorProfile"] = new("{appArmorProfile: {type: RuntimeDefault}}", "{}", o =>
        {
            Assert.Equal(Cri.SecurityProfile.Types.ProfileType.RuntimeDefault, S(o).Apparmor.ProfileType);
            Assert.Equal(Cri.SecurityProfile.Types.ProfileType.RuntimeDefault, C(o).Apparmor.ProfileType);
        }),
        ["V1PodSecurityContext.FsGroup"] = new("{fsGroup: 2000}", "{}", o => Assert.Contains(2000L, C(o).SupplementalGroups)),
        ["V1PodSecurityContext.FsGroupChangePolicy"] = new("{fsGroup: 2000, fsGroupChangePolicy: OnRootMismatch}", "{}", o =>
        {
            // The root already has the group and permissions: OnRootMismatch leaves what is below it alone.
            var dir = Directory.CreateDirectory(Path.Combine(o.Root, "vol")).FullName;
            File.WriteAllText(Path.Combine(dir, "f"), "");
            VolumeOwnership.SetVolumeOwnership(dir, 2000, null, readOnly: false);
            File.SetUnixFileMode(Path.Combine(dir, "f"), UnixFileMode.UserRead);
            VolumeOwnership.SetVolumeOwnership(dir, 2000, o.Pod.Spec.SecurityContext.FsGroupChangePolicy, readOnly: false);
            Assert.Equal(UnixFileMode.UserRead, File.GetUnixFileMode(Path.Combine(dir, "f")));
            VolumeOwnership.SetVolumeOwnership(dir, 2000, "Always", readOnly: false);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite, File.GetUnixFileMode(Path.Combine(dir, "f")));
        }),
        ["V1PodSecurityContext.RunAsGroup"] = new("{runAsUser: 5, runAsGroup: 7}", "{}", o =>
        {
            Assert.Equal(7, C(o).RunAsGroup.Value);
            Assert.Equal(7, S(o).RunAsGroup.Value);
        }),
        ["V1PodSecurityContext.RunAsNonRoot"] = new("{runAsNonRoot: true}", "{}", o =>
            Assert.StartsWith("container has runAsNonRoot and image will run as root", o.ConfigError, StringComparison.Ordinal), ImageUid: 0),
        ["V1PodSecurityContext.RunAsUser"] = new("{runAsUser: 1234}", "{}", o =>
        {
            Assert.Equal(1234, C(o).RunAsUser.Value);
            Assert.Equal(1234, S(o).RunAsUser.Value);
        }),
        ["V1PodSecurityContext.SeLinuxChangePolicy"] = new("{seLinuxChangePolicy: Recursive}", "{}", o =>
            Assert.Equal("spec.securityContext.seLinuxChangePolicy", PodSecurityAdmission.SeLinuxField(o.Pod))),
        ["V1PodSecurityContext.SeLinuxOptions"] = new("{seLinuxOptions: {level: 's0:c1,c2'}}", "{}", o =>
        {
            Assert.Equal("s0:c1,c2", S(o).SelinuxOptions.Level);
            Assert.Equal("s0:c1,c2", C(o).SelinuxOptions.Level);
        }),
        ["V1PodSecurityContext.SeccompProfile"] = new("{seccompProfile: {type: RuntimeDefault}}", "{}", o =>
        {
            Assert.Equal(Cri.SecurityProfile.Types.ProfileType.RuntimeDefault, S(o).Seccomp.ProfileType);
            Assert.Equal(Cri.SecurityProfile.Types.ProfileType.RuntimeDefault, C(o).Seccomp.ProfileType);
        }),
        ["V1PodSecurityContext.SupplementalGroups"] = new("{supplementalGroups: [11, 12]}", "{}", o =>
        {
            Assert.Equal([11L, 12L], C(o).SupplementalGroups);
            Assert.Equal([11L, 12L], S(o).SupplementalGroups);
        }),
        ["V1PodSecurityContext.SupplementalGroupsPolicy"] = new("{supplementalGroupsPolicy: Strict}", "{}", o =>
        {
            Assert.Equal(Cri.SupplementalGroupsPolicy.Strict, C(o).SupplementalGroupsPolicy);
            Assert.Equal(Cri.SupplementalGroupsPolicy.Strict, S(o).SupplementalGroupsPolicy);
        }),
        ["V1PodSecurityContext.Sysctls"] = new("{sysctls: [{name: net.ipv4.tcp_syncookies, value: '1'}]}", "{}", o =>
            Assert.Equal("1", o.Sandbox!.Linux.Sysctls["net.ipv4.tcp_syncookies"])),
        ["V1PodSecurityContext.WindowsOptions"] = new("{windowsOptions: {runAsUserName: app}}", "{}", o =>
            Refused(o, "SecurityContextNotSupported", "spec.securityContext.windowsOptions")),

        ["V1SecurityContext.AllowPrivilegeEscalation"] = new("{}", "{allowPrivilegeEscalation: false}", o => Assert.True(C(o).NoNewPrivs)),
        ["V1SecurityContext.AppArmorProfile"] = new("{}", "{appArmorProfile: {type: Localhost, localhostProfile: k8s-deny}}", o =>
        {
            Assert.Equal(Cri.SecurityProfile.Types.ProfileType.Localhost, C(o).Apparmor.ProfileType);
            Assert.Equal("k8s-deny", C(o).Apparmor.LocalhostRef);
        }),
        ["V1SecurityContext.Capabilities"] = new("{}", "{capabilities: {add: [NET_ADMIN], drop: [ALL]}}", o =>
        {
            Assert.Equal(["NET_ADMIN"], C(o).Capabilities.AddCapabilities);
            Assert.Equal(["ALL"], C(o).Capabilities.DropCapabilities);
        }),
        ["V1SecurityContext.Privileged"] = new("{}", "{privileged: true}", o =>
        {
            Assert.True(C(o).Privileged);
            Assert.True(S(o).Privileged);
        }),
        ["V1SecurityContext.ProcMount"] = new("{}", "{procMount: Unmasked}", o => Refused(o, "SecurityContextNotSupported", "procMount")),
        ["V1SecurityContext.ReadOnlyRootFilesystem"] = new("{}", "{readOnlyRootFilesystem: true}", o => Assert.True(C(o).ReadonlyRootfs)),
        ["V1SecurityContext.RunAsGroup"] = new("{runAsUser: 1, runAsGroup: 8}", "{runAsGroup: 9}", o => Assert.Equal(9, C(o).RunAsGroup.Value)),
        ["V1SecurityContext.RunAsNonRoot"] = new("{}", "{runAsNonRoot: true, runAsUser: 0}", o =>
            Assert.StartsWith("container's runAsUser breaks non-root policy", o.ConfigError, StringComparison.Ordinal)),
        ["V1SecurityContext.RunAsUser"] = new("{runAsUser: 5}", "{runAsUser: 77}", o => Assert.Equal(77, C(o).RunAsUser.Value)),
        ["V1SecurityContext.SeLinuxOptions"] = new("{seLinuxOptions: {type: pod_t}}", "{seLinuxOptions: {type: spc_t}}", o =>
        {
            Assert.Equal("spc_t", C(o).SelinuxOptions.Type);
            Assert.Equal("pod_t", S(o).SelinuxOptions.Type);
        }),
        ["V1SecurityContext.SeccompProfile"] = new("{seccompProfile: {type: RuntimeDefault}}", "{seccompProfile: {type: Unconfined}}", o =>
        {
            Assert.Equal(Cri.SecurityProfile.Types.ProfileType.Unconfined, C(o).Seccomp.ProfileType);
            Assert.Equal(Cri.SecurityProfile.Types.ProfileType.RuntimeDefault, S(o).Seccomp.ProfileType);
        }),
        ["V1SecurityContext.WindowsOptions"] = new("{}", "{windowsOptions: {hostProcess: true}}", o =>
            Refused(o, "SecurityContextNotSupported", "spec.containers[c].securityContext.windowsOptions")),
    };

    public static TheoryData<string> Fields => new(Rows.Keys);

    [Fact]
    public void Every_property_of_the_model_has_a_row()
    {
        var properties = new[] { typeof(V1PodSecurityContext), typeof(V1SecurityContext) }
            .SelectMany(t => t.GetProperties().Select(p => $"{t.Name}.{p.Name}"))
            .Order(StringComparer.Ordinal);
        Assert.Equal(properties, Rows.Keys.Order(StringComparer.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Fields))]
    public void Field_takes_effect_or_is_refused(string field)
    {
        var row = Rows[field];
        var pod = PodSecurityAdmissionTests.Pod($"  securityContext: {row.PodSecurity}\n  containers: [{{name: c, image: busybox, securityContext: {row.ContainerSecurity}}}]");
        var settings = new PodSecuritySettings
        {
            AppArmorEnabled = true,
            SeLinuxEnabled = false,
            SupplementalGroupsPolicySupported = true,
            SeccompProfileRoot = Path.Combine(_root, "seccomp"),
        };
        Directory.CreateDirectory(_root);
        var admission = PodSecurityAdmission.Admit(pod, [], settings);
        Cri.PodSandboxConfig? sandbox = null;
        Cri.ContainerConfig? container = null;
        string? error = null;
        if (admission.Admitted)
        {
            var specs = new PodRuntimeSpecs(_root, _root, new PodDns([], "", null, NullKubeletLog.Instance), null) { Security = settings };
            var sandboxSpec = specs.Sandbox(pod, 0);
            sandbox = CriMapping.ToCri(sandboxSpec);
            var image = new ImageInfo("sha256:1", [], [], 0, row.ImageUid, "", false);
            try { container = CriMapping.ToCri(specs.Container(pod, pod.Spec.Containers[0], false, 0, "busybox", null, new Dictionary<string, string>(), image), sandboxSpec); }
            catch (ContainerConfigException e) { error = e.Message; }
        }
        row.Check(new Outcome(admission, sandbox, container, error, pod, _root));
    }
}
