using k8s;
using k8s.Models;
using KubeletPS.TestCluster.Runtime;

namespace KubeletPS.Core.Tests.Pods.KubeRuntime;

/// <summary>
/// Attacks on the security context against a real (private) containerd: every field asked for either takes effect in
/// the container or the pod is refused saying why; none is silently dropped.
/// </summary>
[Collection(PodSyncCollection.Name)]
public sealed class PodSecurityContextTests(PodSyncFixture fixture)
{
    /// <summary>A one-container pod that runs <paramref name="script"/> once; its output is the termination message.</summary>
    internal static string Pod(string name, string script, string podSecurity = "{}", string containerSecurity = "{}", string image = OciImageBuilder.BusyboxImage,
        string extraSpec = "", string extraContainer = "") => $$"""
        apiVersion: v1
        kind: Pod
        metadata:
          name: {{name}}
        spec:
          restartPolicy: Never
          terminationGracePeriodSeconds: 1
          securityContext: {{podSecurity}}
        {{extraSpec}}
          containers:
          - name: main
            image: {{image}}
            imagePullPolicy: IfNotPresent
            terminationMessagePath: /dev/termination-log
            command: ["sh", "-c", {{System.Text.Json.JsonSerializer.Serialize("{ " + script + "; } > /dev/termination-log 2>&1")}}]
            securityContext: {{containerSecurity}}
        {{extraContainer}}
        """;

    /// <summary>The pod's latest status as the agent stored it (rejected pods never reach a worker).</summary>
    internal static V1Pod? Stored(AgentHarness h, string name) =>
        h.Agent.StatusStore.List().FirstOrDefault(p => p.Name() == $"{name}-{AgentHarness.NodeName}");

    internal static Task<V1Pod> WaitForStoredAsync(AgentHarness h, string name, Func<V1Pod, bool> condition, string what) =>
        PodSyncFixture.WaitForAsync(() => Stored(h, name), p => p is not null && condition(p), $"pod {name}: {what}", TimeSpan.FromSeconds(60))!;

    /// <summary>The script's output once the container has exited.</summary>
    internal static async Task<string> OutputAsync(AgentHarness h, string name)
    {
        var pod = await WaitForStoredAsync(h, name, p => p.Status?.ContainerStatuses?.FirstOrDefault()?.State?.Terminated is not null
            || p.Status?.Phase == "Failed" || p.Status?.ContainerStatuses?.FirstOrDefault()?.State?.Waiting?.Reason is "CreateContainerConfigError", "container done");
        var state = pod.Status.ContainerStatuses?.FirstOrDefault()?.State;
        Assert.True(state?.Terminated is not null, $"the container did not run: {KubernetesJson.Serialize(pod.Status)}");
        return state!.Terminated!.Message ?? "";
    }

    internal static async Task<V1ContainerStateWaiting> ConfigErrorAsync(AgentHarness h, string name)
    {
        var pod = await WaitForStoredAsync(h, name, p => p.Status?.ContainerStatuses?.FirstOrDefault()?.State is { } s
            && (s.Waiting?.Reason == "CreateContainerConfigError" || s.Terminated is not null || s.Running is not null), "a container state");
        var state = pod.Status.ContainerStatuses[0].State;
        Assert.True(state.Waiting?.Reason == "CreateContainerConfigError", $"expected CreateContainerConfigError, the container ran: {KubernetesJson.Serialize(pod.Status)}");
        return state.Waiting!;
    }

    internal static async Task<V1PodStatus> RejectedAsync(AgentHarness h, string name)
    {
        var pod = await WaitForStoredAsync(h, name, p => p.Status?.Phase == "Failed" || p.Status?.ContainerStatuses?.FirstOrDefault()?.State?.Terminated is not null
            || p.Status?.ContainerStatuses?.FirstOrDefault()?.State?.Running is not null, "rejected or run");
        Assert.True(pod.Status.Phase == "Failed" && pod.Status.ContainerStatuses is not { Count: > 0 },
            $"expected a rejection at admission, the pod ran: {KubernetesJson.Serialize(pod.Status)}");
        return pod.Status;
    }

    [Fact]
    public async Task Seccomp_runtime_default_filters_syscalls_and_unconfined_does_not()
    {
        await using var h = fixture.NewAgent();
        h.Write("sc-default.yaml", Pod("sc-default", "grep '^Seccomp:' /proc/self/status", podSecurity: "{seccompProfile: {type: RuntimeDefault}}"));
        h.Write("sc-unconfined.yaml", Pod("sc-unconfined", "grep '^Seccomp:' /proc/self/status", podSecurity: "{seccompProfile: {type: RuntimeDefault}}",
            containerSecurity: "{seccompProfile: {type: Unconfined}}"));
        Assert.Equal("Seccomp:\t2", (await OutputAsync(h, "sc-default")).Trim());
        Assert.Equal("Seccomp:\t0", (await OutputAsync(h, "sc-unconfined")).Trim());
    }

    [Fact]
    public async Task Seccomp_localhost_profile_from_the_seccomp_root_blocks_its_syscalls()
    {
        await using var h = fixture.NewAgent();
        var profiles = Path.Combine(h.RootDirectory, "seccomp", "profiles");
        Directory.CreateDirectory(profiles);
        File.WriteAllText(Path.Combine(profiles, "no-mkdir.json"), """
            {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}
            """);
        h.Write("sc-local.yaml", Pod("sc-local", "mkdir /tmp/x 2>/dev/null && echo made || echo refused", containerSecurity: "{seccompProfile: {type: Localhost, localhostProfile: profiles/no-mkdir.json}}"));
        h.Write("sc-missing.yaml", Pod("sc-missing", "true", containerSecurity: "{seccompProfile: {type: Localhost, localhostProfile: profiles/absent.json}}"));
        h.Write("sc-escape.yaml", Pod("sc-escape", "true", containerSecurity: "{seccompProfile: {type: Localhost, localhostProfile: ../../etc/passwd}}"));
        Assert.Equal("refused", (await OutputAsync(h, "sc-local")).Trim());
        var missing = await ConfigErrorAsync(h, "sc-missing");
        Assert.Contains(Path.Combine(profiles, "absent.json"), missing.Message, StringComparison.Ordinal);
        var escape = await ConfigErrorAsync(h, "sc-escape");
        Assert.Contains("localhostProfile \"../../etc/passwd\"", escape.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsNonRoot_is_verified_against_the_image_user()
    {
        await using var h = fixture.NewAgent();
        h.Write("nr-root.yaml", Pod("nr-root", "id -u", podSecurity: "{runAsNonRoot: true}"));
        h.Write("nr-named.yaml", Pod("nr-named", "id -u", podSecurity: "{runAsNonRoot: true}", image: OciImageBuilder.BusyboxNamedUserImage));
        h.Write("nr-1000.yaml", Pod("nr-1000", "id -u", podSecurity: "{runAsNonRoot: true}", image: OciImageBuilder.BusyboxUser1000Image));
        h.Write("nr-runas.yaml", Pod("nr-runas", "id -u", podSecurity: "{runAsNonRoot: true}", containerSecurity: "{runAsUser: 1234}"));
        h.Write("nr-runas0.yaml", Pod("nr-runas0", "id -u", containerSecurity: "{runAsNonRoot: true, runAsUser: 0}"));

        var root = await ConfigErrorAsync(h, "nr-root");
        Assert.Equal("container has runAsNonRoot and image will run as root (pod: \"nr-root-node1_default(" + Stored(h, "nr-root")!.Metadata.Uid + ")\", container: main)", root.Message);
        var named = await ConfigErrorAsync(h, "nr-named");
        Assert.StartsWith("container has runAsNonRoot and image has non-numeric user (app), cannot verify user is non-root", named.Message, StringComparison.Ordinal);
        var zero = await ConfigErrorAsync(h, "nr-runas0");
        Assert.StartsWith("container's runAsUser breaks non-root policy", zero.Message, StringComparison.Ordinal);
        Assert.Equal("1000", (await OutputAsync(h, "nr-1000")).Trim());
        Assert.Equal("1234", (await OutputAsync(h, "nr-runas")).Trim());
    }

    [Fact]
    public async Task Supplemental_groups_and_fsGroup_reach_every_container()
    {
        await using var h = fixture.NewAgent();
        h.Write("groups.yaml", Pod("groups", "id -G", podSecurity: "{runAsUser: 1000, supplementalGroups: [1234, 5678], fsGroup: 2000}"));
        var groups = (await OutputAsync(h, "groups")).Trim().Split(' ');
        Assert.Contains("1234", groups);
        Assert.Contains("5678", groups);
        Assert.Contains("2000", groups);
    }

    [Fact]
    public async Task FsGroup_owns_emptyDir_and_downwardAPI_volumes()
    {
        await using var h = fixture.NewAgent();
        h.Write("fsgroup.yaml", Pod("fsgroup", "touch /work/new && stat -c '%g %A' /work /work/new && stat -L -c '%g %a' /info/name",
            podSecurity: "{runAsUser: 1000, fsGroup: 2000}",
            extraSpec: """
              volumes:
              - {name: work, emptyDir: {}}
              - name: info
                downwardAPI: {items: [{path: name, fieldRef: {fieldPath: metadata.name}}]}
            """,
            extraContainer: """
                volumeMounts: [{name: work, mountPath: /work}, {name: info, mountPath: /info}]
            """));
        var lines = (await OutputAsync(h, "fsgroup")).Trim().Split('\n');
        Assert.Equal("2000 drwxrwsrwx", lines[0]);
        Assert.StartsWith("2000 ", lines[1], StringComparison.Ordinal); // setgid directory: new files take its group
        Assert.Equal("2000 644", lines[2]); // group read added to the file's 0644
    }

    [Fact]
    public async Task Forbidden_sysctl_is_rejected_and_safe_one_applied()
    {
        await using var h = fixture.NewAgent();
        h.Write("sysctl-bad.yaml", Pod("sysctl-bad", "cat /proc/sys/kernel/msgmax", podSecurity: "{sysctls: [{name: kernel.msgmax, value: '12345'}]}"));
        h.Write("sysctl-ok.yaml", Pod("sysctl-ok", "cat /proc/sys/net/ipv4/ip_local_port_range", podSecurity: "{sysctls: [{name: net.ipv4.ip_local_port_range, value: '20000 30000'}]}"));
        var rejected = await RejectedAsync(h, "sysctl-bad");
        Assert.Equal("SysctlForbidden", rejected.Reason);
        Assert.Equal("Pod was rejected: forbidden sysctl: \"kernel.msgmax\" not allowlisted", rejected.Message);
        Assert.Equal("20000\t30000", (await OutputAsync(h, "sysctl-ok")).Trim());
    }

    [Fact]
    public async Task Host_port_taken_by_an_admitted_pod_is_rejected()
    {
        await using var h = fixture.NewAgent();
        const string port = "    ports: [{containerPort: 8080, hostPort: 18931}]";
        h.Write("port-a.yaml", Pod("port-a", "sleep 30", extraContainer: port));
        await WaitForStoredAsync(h, "port-a", p => p.Status?.ContainerStatuses?.FirstOrDefault()?.State?.Running is not null, "running");
        h.Write("port-b.yaml", Pod("port-b", "sleep 30", extraContainer: port));
        var rejected = await RejectedAsync(h, "port-b");
        Assert.Equal("NodePorts", rejected.Reason);
        Assert.Equal("Pod was rejected: Predicate NodePorts failed: node(s) didn't have free ports for the requested pod ports", rejected.Message);
    }

    [Fact]
    public async Task AppArmor_profile_on_a_host_without_AppArmor_is_rejected()
    {
        Assert.False(File.Exists("/sys/module/apparmor/parameters/enabled") && File.ReadAllText("/sys/module/apparmor/parameters/enabled").StartsWith('Y'),
            "this host has AppArmor; the test checks the refusal on a host without it");
        await using var h = fixture.NewAgent();
        h.Write("aa-field.yaml", Pod("aa-field", "true", containerSecurity: "{appArmorProfile: {type: RuntimeDefault}}"));
        h.Write("aa-unconfined.yaml", Pod("aa-unconfined", "echo ran", podSecurity: "{appArmorProfile: {type: Unconfined}}"));
        var rejected = await RejectedAsync(h, "aa-field");
        Assert.Equal("AppArmor", rejected.Reason);
        Assert.Equal("Pod was rejected: Cannot enforce AppArmor: AppArmor is not enabled on the host", rejected.Message);
        Assert.Equal("ran", (await OutputAsync(h, "aa-unconfined")).Trim());
    }

    [Fact]
    public async Task Unmasked_procMount_is_rejected_naming_the_field()
    {
        await using var h = fixture.NewAgent();
        h.Write("procmount.yaml", Pod("procmount", "true", containerSecurity: "{procMount: Unmasked}"));
        var rejected = await RejectedAsync(h, "procmount");
        Assert.Contains("spec.containers[main].securityContext.procMount", rejected.Message, StringComparison.Ordinal);
    }
}
