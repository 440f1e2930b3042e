using k8s;
using k8s.Models;
using KubeletPS.Core.Pods.Admission;
using KubeletPS.Core.Pods.KubeRuntime;

namespace KubeletPS.Core.Tests.Pods.Admission;

/// <summary>The isolation checks of admission, as tables of pod → kubelet's decision, without a runtime.</summary>
public sealed class PodSecurityAdmissionTests
{
    private static readonly PodSecuritySettings NoAppArmor = new() { AppArmorEnabled = false };

    internal static V1Pod Pod(string spec, string name = "p")
    {
        var pod = KubernetesYaml.Deserialize<V1Pod>($"apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: default, uid: uid-{name}}}\nspec:\n{spec}");
        return pod;
    }

    private static string WithSysctls(string sysctls, string more = "") =>
        $"  {more}\n  securityContext: {{sysctls: [{sysctls}]}}\n  containers: [{{name: c, image: busybox}}]";

    [Theory]
    [InlineData("{name: kernel.shm_rmid_forced, value: '1'}", "", null)]
    [InlineData("{name: net.ipv4.ip_local_port_range, value: '1024 2048'}", "", null)]
    [InlineData("{name: net.ipv4.tcp_wmem, value: '4096 16384 4194304'}", "", null)]
    [InlineData("{name: net/ipv4/tcp_syncookies, value: '1'}", "", null)]
    [InlineData("{name: kernel.msgmax, value: '1'}", "", "\"kernel.msgmax\" not allowlisted")]
    [InlineData("{name: net.core.somaxconn, value: '1'}", "", "\"net.core.somaxconn\" not allowlisted")]
    [InlineData("{name: vm.swappiness, value: '1'}", "", "\"vm.swappiness\" not allowlisted")]
    [InlineData("{name: net.ipv4.ip_local_port_range, value: '1024 2048'}", "hostNetwork: true", "\"net.ipv4.ip_local_port_range\" not allowed with host net enabled")]
    [InlineData("{name: kernel.shm_rmid_forced, value: '1'}", "hostIPC: true", "\"kernel.shm_rmid_forced\" not allowed with host ipc enabled")]
    [InlineData("{name: kernel.shm_rmid_forced, value: '1'}, {name: kernel.sem, value: '1'}", "", "\"kernel.sem\" not allowlisted")]
    public void SysctlsAreTheSafeSetOnly(string sysctls, string more, string? refusal)
    {
        var result = PodSecurityAdmission.Admit(Pod(WithSysctls(sysctls, more)), [], NoAppArmor);
        if (refusal is null)
        {
            Assert.True(result.Admitted, result.Message);
            return;
        }
        Assert.False(result.Admitted);
        Assert.Equal("SysctlForbidden", result.Reason);
        Assert.Equal("Pod was rejected: forbidden sysctl: " + refusal, result.Message);
    }

    [Theory]
    [InlineData("kernel.msgmax", "kernel.msgmax", true)]
    [InlineData("kernel.msg*", "kernel.msgmnb", true)]
    [InlineData("kernel.msg*", "kernel.sem", false)]
    [InlineData("net.core.*", "net.core.somaxconn", true)]
    [InlineData("net.core.somaxconn", "net.core.rmem_max", false)]
    public void AllowedUnsafeSysctlsAddNamesAndPrefixes(string allowed, string sysctl, bool admitted)
    {
        var settings = new PodSecuritySettings { AppArmorEnabled = false, AllowedUnsafeSysctls = [allowed] };
        var result = PodSecurityAdmission.Admit(Pod(WithSysctls($"{{name: {sysctl}, value: '1'}}")), [], settings);
        Assert.Equal(admitted, result.Admitted);
    }

    [Theory]
    [InlineData("kernel.msgmax", null)]
    [InlineData("kernel.shm*", null)]
    [InlineData("net.*", null)]
    [InlineData("fs.mqueue.*", null)]
    [InlineData("kernel.sem", null)]
    [InlineData("kernel.se*", "allowedUnsafeSysctls: the sysctls \"kernel.se*\" are not known to be namespaced")]
    [InlineData("vm.swappiness", "allowedUnsafeSysctls: the sysctls \"vm.swappiness\" are not known to be namespaced")]
    [InlineData("kernel.*", "allowedUnsafeSysctls: the sysctls \"kernel.*\" are not known to be namespaced")]
    [InlineData("Net.Core", "allowedUnsafeSysctls: sysctl \"Net.Core\" must have at most 253 characters and match regex")]
    public void AllowedUnsafeSysctlsMustBeNamespacedAsKubeletChecksAtStart(string pattern, string? error)
    {
        var message = PodSecurityAdmission.CheckAllowedUnsafeSysctls([pattern]);
        if (error is null) Assert.Null(message);
        else Assert.StartsWith(error, message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_agent_does_not_start_with_a_node_wide_sysctl_allowed()
    {
        var root = Path.Combine(Path.GetTempPath(), "kps-sysctl-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var e = Assert.Throws<KubeletException>(() => new KubeletPS.Core.Agent.PodSyncAgent(new KubeletPS.Core.Agent.PodSyncAgentOptions
            {
                NodeName = "n", RootDirectory = root, PodLogsDirectory = root, AllowedUnsafeSysctls = ["net.core.*", "vm.*"],
            }));
            Assert.Equal("allowedUnsafeSysctls: the sysctls \"vm.*\" are not known to be namespaced", e.Message);
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }

    [Theory]
    [InlineData("{containerPort: 80, hostPort: 8080}", "{containerPort: 80, hostPort: 8080}", true)]
    [InlineData("{containerPort: 80, hostPort: 8080}", "{containerPort: 81, hostPort: 8080, protocol: TCP}", true)]
    [InlineData("{containerPort: 80, hostPort: 8080}", "{containerPort: 80, hostPort: 8080, protocol: UDP}", false)]
    [InlineData("{containerPort: 80, hostPort: 8080}", "{containerPort: 80, hostPort: 8081}", false)]
    [InlineData("{containerPort: 80, hostPort: 8080, hostIP: 127.0.0.1}", "{containerPort: 80, hostPort: 8080, hostIP: 127.0.0.2}", false)]
    [InlineData("{containerPort: 80, hostPort: 8080, hostIP: 127.0.0.1}", "{containerPort: 80, hostPort: 8080, hostIP: 127.0.0.1}", true)]
    [InlineData("{containerPort: 80, hostPort: 8080, hostIP: 0.0.0.0}", "{containerPort: 80, hostPort: 8080, hostIP: 127.0.0.1}", true)]
    [InlineData("{containerPort: 80, hostPort: 8080, hostIP: 127.0.0.1}", "{containerPort: 80, hostPort: 8080}", true)]
    [InlineData("{containerPort: 80}", "{containerPort: 80}", false)]
    public void HostPortsOfAnAdmittedPodAreTaken(string admittedPort, string newPort, bool conflict)
    {
        var admitted = Pod($"  containers: [{{name: c, image: busybox, ports: [{admittedPort}]}}]", "a");
        var pod = Pod($"  initContainers: [{{name: i, image: busybox, restartPolicy: Always, ports: [{newPort}]}}]\n  containers: [{{name: c, image: busybox}}]", "b");
        var result = PodSecurityAdmission.Admit(pod, [admitted], NoAppArmor);
        Assert.Equal(!conflict, result.Admitted);
        if (conflict)
        {
            Assert.Equal("NodePorts", result.Reason);
            Assert.Equal("Pod was rejected: Predicate NodePorts failed: node(s) didn't have free ports for the requested pod ports", result.Message);
        }
        // A pod never conflicts with itself (it may be listed among the admitted pods).
        Assert.True(PodSecurityAdmission.Admit(admitted, [admitted], NoAppArmor).Admitted);
    }

    [Theory]
    [InlineData("  securityContext: {appArmorProfile: {type: RuntimeDefault}}\n  containers: [{name: c, image: busybox}]", true)]
    [InlineData("  containers: [{name: c, image: busybox, securityContext: {appArmorProfile: {type: Localhost, localhostProfile: k8s-deny}}}]", true)]
    [InlineData("  securityContext: {appArmorProfile: {type: Unconfined}}\n  containers: [{name: c, image: busybox}]", false)]
    // As kubelet's apparmor isRequired: a pod-level profile counts even when every container overrides it.
    [InlineData("  securityContext: {appArmorProfile: {type: RuntimeDefault}}\n  containers: [{name: c, image: busybox, securityContext: {appArmorProfile: {type: Unconfined}}}]", true)]
    [InlineData("  containers: [{name: c, image: busybox}]", false)]
    public void AppArmorIsRefusedOnAHostWithoutIt(string spec, bool refused)
    {
        var result = PodSecurityAdmission.Admit(Pod(spec), [], NoAppArmor);
        Assert.Equal(!refused, result.Admitted);
        if (refused)
        {
            Assert.Equal("AppArmor", result.Reason);
            Assert.Equal("Pod was rejected: Cannot enforce AppArmor: AppArmor is not enabled on the host", result.Message);
        }
        Assert.True(PodSecurityAdmission.Admit(Pod(spec), [], new PodSecuritySettings { AppArmorEnabled = true }).Admitted);
    }

    [Theory]
    [InlineData("runtime/default", true)]
    [InlineData("localhost/k8s-deny", true)]
    [InlineData("unconfined", false)]
    public void AppArmor_beta_annotation_counts_as_the_field(string value, bool refused)
    {
        var pod = Pod("  containers: [{name: c, image: busybox}]");
        pod.Metadata.Annotations = new Dictionary<string, string> { [PodSecurityContexts.AppArmorAnnotationPrefix + "c"] = value };
        Assert.Equal(!refused, PodSecurityAdmission.Admit(pod, [], NoAppArmor).Admitted);
        var profile = PodSecurityContexts.AppArmor(pod, pod.Spec.Containers[0]);
        Assert.NotNull(profile);
    }

    [Fact]
    public void Strict_supplemental_groups_policy_needs_the_runtime_feature()
    {
        var pod = Pod("  securityContext: {supplementalGroupsPolicy: Strict}\n  containers: [{name: c, image: busybox}]");
        var result = PodSecurityAdmission.Admit(pod, [], NoAppArmor);
        Assert.Equal("SupplementalGroupsPolicyNotSupported", result.Reason);
        Assert.Equal("Pod was rejected: SupplementalGroupsPolicy=Strict is not supported in this node", result.Message);
        Assert.True(PodSecurityAdmission.Admit(pod, [], new PodSecuritySettings { AppArmorEnabled = false, SupplementalGroupsPolicySupported = true }).Admitted);
    }

    [Theory]
    [InlineData("  hostUsers: false\n  containers: [{name: c, image: busybox}]", "spec.hostUsers")]
    [InlineData("  containers: [{name: c, image: busybox, securityContext: {procMount: Unmasked}}]", "spec.containers[c].securityContext.procMount")]
    [InlineData("  initContainers: [{name: i, image: busybox, securityContext: {procMount: Unmasked}}]\n  containers: [{name: c, image: busybox}]", "spec.initContainers[i].securityContext.procMount")]
    [InlineData("  securityContext: {windowsOptions: {runAsUserName: app}}\n  containers: [{name: c, image: busybox}]", "spec.securityContext.windowsOptions")]
    [InlineData("  containers: [{name: c, image: busybox, securityContext: {windowsOptions: {hostProcess: true}}}]", "spec.containers[c].securityContext.windowsOptions")]
    public void FieldsThisNodeCannotHonourAreRefusedByName(string spec, string field)
    {
        var result = PodSecurityAdmission.Admit(Pod(spec), [], NoAppArmor);
        Assert.False(result.Admitted);
        Assert.Equal("SecurityContextNotSupported", result.Reason);
        Assert.StartsWith("Pod was rejected: " + field, result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ProcMount_default_is_admitted() =>
        Assert.True(PodSecurityAdmission.Admit(Pod("  containers: [{name: c, image: busybox, securityContext: {procMount: Default}}]"), [], NoAppArmor).Admitted);
}

public sealed class SecurityAdmitHandlerTests
{
    private static V1Pod PortPod(string name) =>
        PodSecurityAdmissionTests.Pod("  containers: [{name: c, image: busybox, ports: [{containerPort: 80, hostPort: 8080}]}]", name);

    [Fact]
    public void A_second_pod_on_a_host_port_is_refused_once_until_the_first_finishes_or_leaves()
    {
        var finished = new List<string>();
        var handler = new SecurityAdmitHandler(new PodSecuritySettings { AppArmorEnabled = false }, () => finished);
        Assert.Equal(AdmitOutcome.Admitted, handler.Admit(PortPod("a"), running: false).Outcome);

        var (outcome, rejected, result) = handler.Admit(PortPod("b"), running: false);
        Assert.Equal(AdmitOutcome.NewlyRefused, outcome);
        Assert.Equal("Failed", rejected!.Status.Phase);
        Assert.Equal("NodePorts", rejected.Status.Reason);
        Assert.Equal("NodePorts", result!.Reason);
        Assert.Equal(AdmitOutcome.Refused, handler.Admit(PortPod("b"), running: false).Outcome);
        Assert.Equal(["uid-b"], handler.Rejected.Select(p => p.Metadata.Uid));

        // The first pod finished: its port is free for a new pod.
        finished.Add("uid-a");
        Assert.Equal(AdmitOutcome.Admitted, handler.Admit(PortPod("c"), running: false).Outcome);
        // A pod already running is never refused (a restarted agent adopting it).
        Assert.Equal(AdmitOutcome.Admitted, handler.Admit(PortPod("d"), running: true).Outcome);

        Assert.True(handler.Forget("uid-b"));
        Assert.False(handler.Forget("uid-c"));
        Assert.Empty(handler.Rejected);
    }
}
