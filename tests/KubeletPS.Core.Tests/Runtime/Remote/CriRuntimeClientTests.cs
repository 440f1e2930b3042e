using System.Net;
using KubeletPS.Core.Runtime;
using KubeletPS.Core.Runtime.Logs;
using KubeletPS.Core.Runtime.Remote;

namespace KubeletPS.Core.Tests.Runtime.Remote;

[Collection(ContainerdCollection.Name)]
public sealed class CriRuntimeClientTests(ContainerdFixture fixture)
{
    private CriRuntimeClient Client => fixture.Client;

    [Fact]
    public async Task Version_NamesContainerdAndCriV1()
    {
        var version = await Client.VersionAsync();

        Assert.Equal("containerd", version.RuntimeName);
        Assert.Equal("v1", version.RuntimeApiVersion);
        Assert.False(string.IsNullOrEmpty(version.RuntimeVersion));
    }

    [Fact]
    public async Task Status_ReportsRuntimeAndNetworkReady()
    {
        var status = await Client.EnsureReadyAsync();

        Assert.True(status.RuntimeReady);
        Assert.True(status.NetworkReady, $"NetworkReady: {status.Find("NetworkReady")}");
    }

    [Fact]
    public async Task ImageStatus_FindsImportedBusybox()
    {
        var image = await Client.ImageStatusAsync(fixture.Containerd.BusyboxImage);

        Assert.NotNull(image);
        Assert.Contains(fixture.Containerd.BusyboxImage, image.RepoTags);
        Assert.StartsWith("sha256:", image.Id);
        Assert.True(image.Size > 0);
        var listed = await Client.ListImagesAsync();
        Assert.Contains(listed, i => i.Id == image.Id);
    }

    [Fact]
    public async Task ImageStatus_ReturnsNullForAbsentImage()
    {
        Assert.Null(await Client.ImageStatusAsync("kubeletps.local/absent:never"));
    }

    [Fact]
    public async Task ImageFsInfo_ReportsTheSnapshotterFilesystem()
    {
        var filesystems = await Client.ImageFsInfoAsync();

        Assert.NotEmpty(filesystems);
        Assert.Contains(filesystems, f => f.Mountpoint.StartsWith(fixture.Containerd.RootDir, StringComparison.Ordinal));
    }

    [Fact]
    public async Task PodSandbox_WithCni_GetsAnIpInTheBridgeSubnet()
    {
        var pod = fixture.NewPod("cni");
        string? sandboxId = null;
        try
        {
            sandboxId = await Client.RunPodSandboxAsync(pod);
            var status = await Client.PodSandboxStatusAsync(sandboxId);

            Assert.Equal(PodSandboxState.Ready, status.State);
            Assert.Equal((pod.Name, pod.Namespace, pod.Uid, 0u), (status.Name, status.Namespace, status.Uid, status.Attempt));
            Assert.False(status.HostNetwork);
            Assert.NotNull(status.Ip);
            Assert.True(InSubnet(IPAddress.Parse(status.Ip), fixture.Containerd.Subnet), $"{status.Ip} not in {fixture.Containerd.Subnet}");
            Assert.Equal(pod.Labels["io.kubernetes.pod.uid"], status.Labels["io.kubernetes.pod.uid"]);
            Assert.Equal("runtime-tests", status.Annotations["kubeletps.test/owner"]);
            Assert.NotNull(status.CreatedAt);

            var listed = await Client.ListPodSandboxesAsync(new PodSandboxFilter { LabelSelector = new Dictionary<string, string> { ["io.kubernetes.pod.uid"] = pod.Uid } });
            Assert.Equal(sandboxId, Assert.Single(listed).Id);

            await Client.StopPodSandboxAsync(sandboxId);
            Assert.Equal(PodSandboxState.NotReady, (await Client.PodSandboxStatusAsync(sandboxId)).State);
            var notReady = await Client.ListPodSandboxesAsync(new PodSandboxFilter { Id = sandboxId, State = PodSandboxState.Ready });
            Assert.Empty(notReady);
        }
        finally
        {
            await fixture.RemovePodAsync(sandboxId);
        }

        var error = await Assert.ThrowsAsync<KubeletRuntimeException>(() => Client.PodSandboxStatusAsync(sandboxId));
        Assert.Equal(RuntimeErrorKind.NotFound, error.Kind);
        Assert.Equal("PodSandboxStatus", error.Operation);
    }

    [Fact]
    public async Task HostNetworkSandbox_UsesTheNodeNetworkAndHostname()
    {
        var pod = fixture.NewPod("hostnet", hostNetwork: true);
        string? sandboxId = null;
        try
        {
            sandboxId = await Client.RunPodSandboxAsync(pod);
            var status = await Client.PodSandboxStatusAsync(sandboxId);
            Assert.Equal(PodSandboxState.Ready, status.State);
            Assert.True(status.HostNetwork);

            var containerId = await Client.CreateContainerAsync(sandboxId, fixture.NewContainer("main", "sleep", "3600"), pod);
            await Client.StartContainerAsync(containerId);
            var hostname = await Client.ExecSyncAsync(containerId, ["hostname"], TimeSpan.FromSeconds(10));

            Assert.Equal(0, hostname.ExitCode);
            Assert.Equal(File.ReadAllText("/proc/sys/kernel/hostname").Trim(), hostname.Stdout.Trim());
        }
        finally
        {
            await fixture.RemovePodAsync(sandboxId);
        }
    }

    [Fact]
    public async Task Container_RunsLogsExecsStopsAndIsRemoved()
    {
        var pod = fixture.NewPod("lifecycle");
        string? sandboxId = null;
        try
        {
            sandboxId = await Client.RunPodSandboxAsync(pod);
            var spec = fixture.NewContainer("main", "sh", "-c", "echo hello; echo oops >&2; sleep 3600") with
            {
                Env = [new("GREETING", "hi there")],
                Annotations = new Dictionary<string, string> { ["io.kubernetes.container.restartCount"] = "0" },
            };
            var containerId = await Client.CreateContainerAsync(sandboxId, spec, pod);
            Assert.Equal(ContainerState.Created, (await Client.ContainerStatusAsync(containerId)).State);

            await Client.StartContainerAsync(containerId);
            var running = await Client.ContainerStatusAsync(containerId);
            Assert.Equal(ContainerState.Running, running.State);
            Assert.Equal("main", running.Name);
            Assert.NotNull(running.StartedAt);
            Assert.Null(running.FinishedAt);
            Assert.StartsWith("sha256:", running.ImageRef);
            Assert.Equal("0", running.Annotations["io.kubernetes.container.restartCount"]);
            var logPath = Path.Combine(pod.LogDirectory!, "main", "0.log");
            Assert.Equal(logPath, running.LogPath);

            // The runtime writes the log asynchronously: poll for both lines.
            var entries = await ContainerdFixture.WaitForAsync(
                () => ContainerLogReader.ReadAllAsync(logPath),
                e => e.Count >= 2,
                "two log lines");
            Assert.Contains(entries, e => e is { Stream: ContainerLogStream.Stdout, Message: "hello" });
            Assert.Contains(entries, e => e is { Stream: ContainerLogStream.Stderr, Message: "oops" });
            Assert.Matches(@"^\d{4}-\d\d-\d\dT[0-9:.]+Z stdout F hello$", File.ReadAllLines(logPath).First(l => l.Contains("stdout")));

            var exec = await Client.ExecSyncAsync(containerId, ["sh", "-c", "echo \"$GREETING\"; echo to-stderr >&2; exit 7"], TimeSpan.FromSeconds(10));
            Assert.Equal(7, exec.ExitCode);
            Assert.Equal("hi there\n", exec.Stdout);
            Assert.Equal("to-stderr\n", exec.Stderr);

            // sh as PID 1 ignores SIGTERM, so the runtime kills it once the grace period is over.
            await Client.StopContainerAsync(containerId, TimeSpan.Zero);
            var exited = await ContainerdFixture.WaitForAsync(() => Client.ContainerStatusAsync(containerId), s => s.State == ContainerState.Exited, "container exited");
            Assert.Equal(137, exited.ExitCode);
            Assert.NotNull(exited.FinishedAt);

            await Client.RemoveContainerAsync(containerId);
            var error = await Assert.ThrowsAsync<KubeletRuntimeException>(() => Client.ContainerStatusAsync(containerId));
            Assert.Equal(RuntimeErrorKind.NotFound, error.Kind);
            Assert.Contains(fixture.Containerd.Endpoint, error.Message);
        }
        finally
        {
            await fixture.RemovePodAsync(sandboxId);
        }
    }

    [Fact]
    public async Task Container_ExitingWithThree_IsExitedWithCodeThree()
    {
        var pod = fixture.NewPod("exit3");
        string? sandboxId = null;
        try
        {
            sandboxId = await Client.RunPodSandboxAsync(pod);
            var containerId = await Client.CreateContainerAsync(sandboxId, fixture.NewContainer("fail", "sh", "-c", "exit 3"), pod);
            await Client.StartContainerAsync(containerId);

            var status = await ContainerdFixture.WaitForAsync(() => Client.ContainerStatusAsync(containerId), s => s.State == ContainerState.Exited, "container exited");

            Assert.Equal(3, status.ExitCode);
            Assert.Equal("Error", status.Reason);
            // Not ordered: containerd stamps started_at after Start returns, which can be after a
            // quick process already exited (and got its finished_at from the exit event).
            Assert.NotNull(status.StartedAt);
            Assert.NotNull(status.FinishedAt);
        }
        finally
        {
            await fixture.RemovePodAsync(sandboxId);
        }
    }

    [Fact]
    public async Task Container_RunsWithTheSecurityContextAndResources()
    {
        var pod = fixture.NewPod("secctx");
        string? sandboxId = null;
        try
        {
            sandboxId = await Client.RunPodSandboxAsync(pod);
            var spec = fixture.NewContainer("restricted", "sleep", "3600") with
            {
                RunAsUser = 65534,
                RunAsGroup = 65534,
                ReadOnlyRootFilesystem = true,
                Resources = new ContainerResourcesSpec { CpuShares = 256, MemoryLimitInBytes = 64 * 1024 * 1024 },
                WorkingDir = "/tmp",
            };
            var containerId = await Client.CreateContainerAsync(sandboxId, spec, pod);
            await Client.StartContainerAsync(containerId);

            var id = await Client.ExecSyncAsync(containerId, ["sh", "-c", "id -u; id -g; pwd"], TimeSpan.FromSeconds(10));
            Assert.Equal("65534\n65534\n/tmp\n", id.Stdout);
            var write = await Client.ExecSyncAsync(containerId, ["touch", "/bin/x"], TimeSpan.FromSeconds(10));
            Assert.NotEqual(0, write.ExitCode);

            await Client.UpdateContainerResourcesAsync(containerId, new ContainerResourcesSpec { CpuShares = 512, MemoryLimitInBytes = 128 * 1024 * 1024 });
        }
        finally
        {
            await fixture.RemovePodAsync(sandboxId);
        }
    }

    [Fact]
    public async Task ListContainers_FiltersByLabelSandboxAndState()
    {
        var pod = fixture.NewPod("list");
        string? sandboxId = null;
        try
        {
            sandboxId = await Client.RunPodSandboxAsync(pod);
            var marker = Guid.NewGuid().ToString("N");
            var labelled = fixture.NewContainer("labelled", "sleep", "3600") with
            {
                Labels = new Dictionary<string, string> { ["kubeletps.test/marker"] = marker },
            };
            var labelledId = await Client.CreateContainerAsync(sandboxId, labelled, pod);
            var otherId = await Client.CreateContainerAsync(sandboxId, fixture.NewContainer("other", "sleep", "3600"), pod);
            await Client.StartContainerAsync(labelledId);

            var byLabel = await Client.ListContainersAsync(new ContainerFilter { LabelSelector = new Dictionary<string, string> { ["kubeletps.test/marker"] = marker } });
            var info = Assert.Single(byLabel);
            Assert.Equal((labelledId, sandboxId, "labelled", ContainerState.Running), (info.Id, info.PodSandboxId, info.Name, info.State));

            var inSandbox = await Client.ListContainersAsync(new ContainerFilter { PodSandboxId = sandboxId });
            Assert.Equal(new[] { labelledId, otherId }.Order(), inSandbox.Select(c => c.Id).Order());

            var created = await Client.ListContainersAsync(new ContainerFilter { PodSandboxId = sandboxId, State = ContainerState.Created });
            Assert.Equal(otherId, Assert.Single(created).Id);
        }
        finally
        {
            await fixture.RemovePodAsync(sandboxId);
        }
    }

    [Fact]
    public async Task LogReader_FollowsLinesAsTheContainerWritesThem()
    {
        var pod = fixture.NewPod("follow");
        string? sandboxId = null;
        try
        {
            sandboxId = await Client.RunPodSandboxAsync(pod);
            var containerId = await Client.CreateContainerAsync(sandboxId, fixture.NewContainer("writer", "sh", "-c", "for i in 1 2 3 4 5; do echo line$i; sleep 0.1; done; sleep 3600"), pod);
            await Client.StartContainerAsync(containerId);
            var logPath = (await Client.ContainerStatusAsync(containerId)).LogPath;

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            var seen = new List<string>();
            await foreach (var entry in ContainerLogReader.ReadAsync(logPath, new ContainerLogReadOptions { Follow = true, PollInterval = TimeSpan.FromMilliseconds(50) }, timeout.Token))
            {
                seen.Add(entry.Message);
                if (seen.Count == 5)
                {
                    break;
                }
            }

            Assert.Equal(["line1", "line2", "line3", "line4", "line5"], seen);
            var lastTwo = await ContainerLogReader.ReadAllAsync(logPath, tail: 2);
            Assert.Equal(["line4", "line5"], lastTwo.Select(e => e.Message));
        }
        finally
        {
            await fixture.RemovePodAsync(sandboxId);
        }
    }

    private static bool InSubnet(IPAddress address, string cidr)
    {
        var network = IPNetwork.Parse(cidr);
        return network.Contains(address);
    }
}
