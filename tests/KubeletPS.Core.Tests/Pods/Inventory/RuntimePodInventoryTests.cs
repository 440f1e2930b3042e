using k8s.Models;
using KubeletPS.Core.Pods.Events;
using KubeletPS.Core.Pods.Inventory;
using KubeletPS.Core.Pods.KubeRuntime;
using KubeletPS.Core.Pods.Status;
using KubeletPS.Core.Runtime;
using KubeletPS.Core.Runtime.Logs;
using KubeletPS.Core.Runtime.Remote;
using KubeletPS.Core.Tests.Runtime;

namespace KubeletPS.Core.Tests.Pods.Inventory;

/// <summary>The inventory against a private containerd, with sandboxes and containers labelled as kubelet labels them.</summary>
[Collection(ContainerdCollection.Name)]
public sealed class RuntimePodInventoryTests(ContainerdFixture fixture) : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("kps-root-").FullName;
    private CriRuntimeClient Client => fixture.Client;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private sealed record TestPod(PodSandboxSpec Spec, string SandboxId);

    private async Task<TestPod> RunPodAsync(string prefix)
    {
        var spec = fixture.NewPod(prefix);
        spec = spec with
        {
            Labels = new Dictionary<string, string>
            {
                [KubeletLabels.PodName] = spec.Name,
                [KubeletLabels.PodNamespace] = spec.Namespace,
                [KubeletLabels.PodUid] = spec.Uid,
            },
        };
        return new TestPod(spec, await Client.RunPodSandboxAsync(spec));
    }

    private async Task<string> RunContainerAsync(TestPod pod, string name, string script, uint attempt = 0, int? restartCount = null, bool labelled = true)
    {
        var spec = fixture.NewContainer(name, "sh", "-c", script) with
        {
            Attempt = attempt,
            LogPath = ContainerSpec.DefaultLogPath(name, attempt),
            Labels = labelled
                ? new Dictionary<string, string>
                {
                    [KubeletLabels.PodName] = pod.Spec.Name,
                    [KubeletLabels.PodNamespace] = pod.Spec.Namespace,
                    [KubeletLabels.PodUid] = pod.Spec.Uid,
                    [KubeletLabels.ContainerName] = name,
                }
                : new Dictionary<string, string> { ["app"] = "not-kubelet" },
            Annotations = new Dictionary<string, string> { [KubeletLabels.ContainerRestartCount] = (restartCount ?? (int)attempt).ToString() },
        };
        var id = await Client.CreateContainerAsync(pod.SandboxId, spec, pod.Spec);
        await Client.StartContainerAsync(id);
        return id;
    }

    private RuntimePodInventory Inventory(LocalPodStatusStore? store = null) => new(Client, store);

    private async Task<RuntimePod> WaitForPodAsync(TestPod pod, Func<RuntimePod, bool> condition, string what, LocalPodStatusStore? store = null)
    {
        var found = await ContainerdFixture.WaitForAsync(
            async () => (await Inventory(store).ListAsync((_, name) => name == pod.Spec.Name)).SingleOrDefault(),
            p => p is not null && condition(p), what);
        return found!;
    }

    [Fact]
    public async Task RunningPod_ShowsPhaseIpContainersAndRestarts()
    {
        var pod = await RunPodAsync("inv-run");
        try
        {
            var appId = await RunContainerAsync(pod, "app", "sleep 3600", attempt: 2, restartCount: 2);
            await RunContainerAsync(pod, "sidecar", "sleep 3600");

            var listed = await WaitForPodAsync(pod, p => p.Containers.Count == 2 && p.Containers.All(c => c.State == PodContainerState.Running), "both containers running");

            Assert.Equal((pod.Spec.Name, "default", pod.Spec.Uid), (listed.Name, listed.Namespace, listed.Uid));
            Assert.Equal("Running", listed.Phase);
            Assert.Equal("Running", listed.Status);
            Assert.False(listed.HasAgentStatus);
            Assert.Equal(pod.SandboxId, listed.SandboxId);
            Assert.Equal(PodSandboxState.Ready, listed.SandboxState);
            Assert.NotNull(listed.PodIP);
            Assert.NotNull(listed.CreatedAt);
            Assert.Equal(["app", "sidecar"], listed.Containers.Select(c => c.Name));
            var app = listed.Containers[0];
            Assert.Equal(appId, app.ContainerId);
            Assert.Equal(2, app.RestartCount);
            Assert.True(app.Ready, "without a status file a running container counts as ready");
            Assert.Null(app.ExitCode);
            Assert.NotNull(app.StartedAt);
            Assert.Equal(fixture.Containerd.BusyboxImage, app.Image);
            Assert.EndsWith("/app/2.log", app.LogPath, StringComparison.Ordinal);
            Assert.False(app.IsInit);
        }
        finally
        {
            await fixture.RemovePodAsync(pod.SandboxId);
        }
    }

    [Fact]
    public async Task ExitedContainer_WithCodeThree_MakesThePodFailed()
    {
        var pod = await RunPodAsync("inv-fail");
        try
        {
            await RunContainerAsync(pod, "job", "echo working; exit 3");

            var listed = await WaitForPodAsync(pod, p => p.Containers.Any(c => c.State == PodContainerState.Exited), "the container exited");

            Assert.Equal("Failed", listed.Phase);
            Assert.Equal("Error", listed.Status);
            var job = Assert.Single(listed.Containers);
            Assert.Equal(PodContainerState.Exited, job.State);
            Assert.Equal(3, job.ExitCode);
            Assert.Equal("Error", job.Reason);
            Assert.False(job.Ready);
            Assert.NotNull(job.FinishedAt);
        }
        finally
        {
            await fixture.RemovePodAsync(pod.SandboxId);
        }
    }

    [Fact]
    public async Task AllExitedZero_MakesThePodSucceeded()
    {
        var pod = await RunPodAsync("inv-ok");
        try
        {
            await RunContainerAsync(pod, "once", "true");

            var listed = await WaitForPodAsync(pod, p => p.Containers.Any(c => c.State == PodContainerState.Exited), "the container exited");

            Assert.Equal("Succeeded", listed.Phase);
            Assert.Equal("Completed", listed.Status);
            Assert.Equal(0, listed.Containers[0].ExitCode);
        }
        finally
        {
            await fixture.RemovePodAsync(pod.SandboxId);
        }
    }

    [Fact]
    public async Task AgentStatusFile_GivesPhaseReadinessAndConditions()
    {
        var pod = await RunPodAsync("inv-agent");
        try
        {
            await RunContainerAsync(pod, "app", "sleep 3600");
            var store = new LocalPodStatusStore(_root);
            store.Save(new V1Pod
            {
                Metadata = new V1ObjectMeta { Name = pod.Spec.Name, NamespaceProperty = "default", Uid = pod.Spec.Uid },
                Spec = new V1PodSpec { Containers = [new V1Container { Name = "app", Image = "busybox" }] },
                Status = new V1PodStatus
                {
                    // The agent is authoritative: a pod whose readiness probe has not passed yet.
                    Phase = "Pending",
                    Conditions = [new V1PodCondition { Type = "Ready", Status = "False", Reason = "ContainersNotReady" }],
                    ContainerStatuses = [new V1ContainerStatus { Name = "app", Ready = false, Image = "busybox", ImageID = "", RestartCount = 0 }],
                },
            });

            var listed = await WaitForPodAsync(pod, p => p.Containers.Any(c => c.State == PodContainerState.Running), "the container running", store);

            Assert.True(listed.HasAgentStatus);
            Assert.Equal("Pending", listed.Phase);
            Assert.False(listed.Containers[0].Ready);
            var condition = Assert.Single(listed.Conditions);
            Assert.Equal(("Ready", "False", "ContainersNotReady"), (condition.Type, condition.Status, condition.Reason));

            var withoutFile = (await Inventory().ListAsync((_, name) => name == pod.Spec.Name)).Single();
            Assert.Equal("Running", withoutFile.Phase);
            Assert.True(withoutFile.Containers[0].Ready);
        }
        finally
        {
            await fixture.RemovePodAsync(pod.SandboxId);
        }
    }

    [Fact]
    public async Task SandboxesAndContainersWithoutKubeletLabels_AreIgnored()
    {
        var foreign = fixture.NewPod("inv-foreign", labels: new Dictionary<string, string> { ["app"] = "not-kubelet" });
        var foreignId = await Client.RunPodSandboxAsync(foreign);
        var pod = await RunPodAsync("inv-mixed");
        try
        {
            await RunContainerAsync(pod, "ours", "sleep 3600");
            await RunContainerAsync(pod, "theirs", "sleep 3600", labelled: false);

            var listed = await WaitForPodAsync(pod, p => p.Containers.Count > 0 && p.Containers.All(c => c.State == PodContainerState.Running), "our container running");

            Assert.Equal("ours", Assert.Single(listed.Containers).Name);
            var all = await Inventory().ListAsync();
            Assert.DoesNotContain(all, p => p.Name == foreign.Name || p.SandboxId == foreignId);
        }
        finally
        {
            await fixture.RemovePodAsync(pod.SandboxId);
            await fixture.RemovePodAsync(foreignId);
        }
    }

    [Fact]
    public async Task ContainerLog_TailAndPreviousAttempt()
    {
        var pod = await RunPodAsync("inv-logs");
        try
        {
            var first = await RunContainerAsync(pod, "app", "echo one; echo two; echo three; exit 1");
            await ContainerdFixture.WaitForAsync(() => Client.ContainerStatusAsync(first), s => s.State == ContainerState.Exited, "the first attempt exited");
            await RunContainerAsync(pod, "app", "echo restarted; sleep 3600", attempt: 1);
            var listed = await WaitForPodAsync(pod, p => p.Containers.Any(c => c.Attempt == 1 && c.State == PodContainerState.Running), "the second attempt running");
            Assert.Equal(1, listed.Restarts());

            var inventory = Inventory();
            var current = await inventory.FindContainerLogAsync(new ContainerLogQuery(pod.Spec.Name));
            Assert.Equal(("app", 1u, PodContainerState.Running), (current.ContainerName, current.Attempt, current.State));
            var currentLines = await ContainerdFixture.WaitForAsync(() => ContainerLogReader.ReadAllAsync(current.LogPath), e => e.Count > 0, "the second attempt's log");
            Assert.Equal(["restarted"], currentLines.Select(e => e.Message));

            var previous = await inventory.FindContainerLogAsync(new ContainerLogQuery(pod.Spec.Name, "default", "app", Previous: true));
            Assert.Equal((first, 0u), (previous.ContainerId, previous.Attempt));
            Assert.EndsWith("/app/0.log", previous.LogPath, StringComparison.Ordinal);
            var tail = await ContainerLogReader.ReadAllAsync(previous.LogPath, tail: 2);
            Assert.Equal(["two", "three"], tail.Select(e => e.Message));
        }
        finally
        {
            await fixture.RemovePodAsync(pod.SandboxId);
        }
    }

    [Fact]
    public async Task ContainerLog_FollowPicksUpNewLines()
    {
        var pod = await RunPodAsync("inv-follow");
        try
        {
            await RunContainerAsync(pod, "app", "echo before; sleep 2; echo after; sleep 3600");
            var source = await ContainerdFixture.WaitForAsync(
                () => Inventory().FindContainerLogAsync(new ContainerLogQuery(pod.Spec.Name, ContainerName: "app")),
                s => s.State == PodContainerState.Running && File.Exists(s.LogPath), "the container running with a log");

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            var seen = new List<string>();
            try
            {
                await foreach (var entry in ContainerLogReader.ReadAsync(source.LogPath, new ContainerLogReadOptions { Follow = true, Tail = 10 }, timeout.Token))
                {
                    seen.Add(entry.Message);
                    if (entry.Message == "after") break;
                }
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"no 'after' line within 20 s; saw: {string.Join(", ", seen)}");
            }

            Assert.Equal(["before", "after"], seen);
        }
        finally
        {
            await fixture.RemovePodAsync(pod.SandboxId);
        }
    }

    [Fact]
    public async Task ContainerLog_AmbiguousContainer_ListsTheNames()
    {
        var pod = await RunPodAsync("inv-two");
        try
        {
            await RunContainerAsync(pod, "web", "sleep 3600");
            await RunContainerAsync(pod, "proxy", "sleep 3600");
            await WaitForPodAsync(pod, p => p.Containers.Count == 2, "both containers");

            var inventory = Inventory();
            var ambiguous = await Assert.ThrowsAsync<ContainerLogLookupException>(() => inventory.FindContainerLogAsync(new ContainerLogQuery(pod.Spec.Name)));
            Assert.Equal(ContainerLogLookupProblem.ContainerNameRequired, ambiguous.Problem);
            Assert.Equal(KubeletErrorKind.InvalidArgument, ambiguous.Category);
            Assert.Equal(["proxy", "web"], ambiguous.Choices);
            Assert.Contains("choose one of: [proxy web]", ambiguous.Message, StringComparison.Ordinal);

            var wrong = await Assert.ThrowsAsync<ContainerLogLookupException>(() => inventory.FindContainerLogAsync(new ContainerLogQuery(pod.Spec.Name, ContainerName: "db")));
            Assert.Equal(ContainerLogLookupProblem.ContainerNotFound, wrong.Problem);

            var previous = await Assert.ThrowsAsync<ContainerLogLookupException>(() => inventory.FindContainerLogAsync(new ContainerLogQuery(pod.Spec.Name, ContainerName: "web", Previous: true)));
            Assert.Equal(ContainerLogLookupProblem.PreviousNotFound, previous.Problem);

            var missing = await Assert.ThrowsAsync<ContainerLogLookupException>(() => inventory.FindContainerLogAsync(new ContainerLogQuery("no-such-pod")));
            Assert.Equal((ContainerLogLookupProblem.PodNotFound, KubeletErrorKind.NotFound), (missing.Problem, missing.Category));
        }
        finally
        {
            await fixture.RemovePodAsync(pod.SandboxId);
        }
    }

    [Fact]
    public async Task MissingSocket_ThrowsNamingTheEndpoint()
    {
        var endpoint = $"unix:///tmp/kps-missing-{Guid.NewGuid():N}.sock";
        await using var client = new CriRuntimeClient(endpoint, TimeSpan.FromSeconds(5));

        var e = await Assert.ThrowsAsync<KubeletRuntimeException>(() => new RuntimePodInventory(client).ListAsync());

        Assert.Equal(RuntimeErrorKind.EndpointMissing, e.Kind);
        Assert.Equal(KubeletErrorKind.Connection, e.Category);
        Assert.Contains(endpoint, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(5, "5s")]
    [InlineData(119, "119s")]
    [InlineData(200, "3m20s")]
    [InlineData(180, "3m")]
    [InlineData(15 * 60, "15m")]
    [InlineData(5 * 3600 + 600, "5h10m")]
    [InlineData(30 * 3600, "30h")]
    [InlineData(2 * 86400, "2d")]
    [InlineData(2 * 86400 + 3 * 3600, "2d3h")]
    [InlineData(40 * 86400, "40d")]
    [InlineData(-1, "0s")]
    public void HumanDuration_FormatsLikeKubectl(int seconds, string expected)
        => Assert.Equal(expected, HumanDuration.Format(TimeSpan.FromSeconds(seconds)));
}

internal static class RuntimePodTestExtensions
{
    public static int Restarts(this RuntimePod pod) => pod.AppContainers.Sum(c => c.RestartCount);
}
