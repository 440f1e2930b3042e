using KubeletPS.Core.Runtime;
using KubeletPS.Core.Runtime.Remote;
using KubeletPS.TestCluster.Runtime;

namespace KubeletPS.Core.Tests.Runtime.Remote;

public sealed class CriRuntimeErrorTests
{
    [Fact]
    public async Task MissingSocket_NamesTheEndpointAndSocket()
    {
        var socket = $"/tmp/kps-missing-{Guid.NewGuid():N}/containerd.sock";
        await using var client = new CriRuntimeClient("unix://" + socket, TimeSpan.FromSeconds(5));

        var error = await Assert.ThrowsAsync<KubeletRuntimeException>(() => client.VersionAsync());

        Assert.Equal(RuntimeErrorKind.EndpointMissing, error.Kind);
        Assert.Equal("Version", error.Operation);
        Assert.Equal("unix://" + socket, error.Endpoint);
        Assert.StartsWith($"container runtime endpoint unix://{socket}: socket {socket} does not exist", error.Message);
    }

    [Fact]
    public void Endpoint_AcceptsUnixUrlsAndBarePathsOnly()
    {
        Assert.Equal("/run/containerd/containerd.sock", RuntimeEndpoint.ToSocketPath("unix:///run/containerd/containerd.sock"));
        Assert.Equal("/run/containerd/containerd.sock", RuntimeEndpoint.ToSocketPath("/run/containerd/containerd.sock"));
        Assert.Equal("unix:///x.sock", RuntimeEndpoint.Normalize("/x.sock"));
        Assert.Throws<ArgumentException>(() => RuntimeEndpoint.ToSocketPath("tcp://localhost:1234"));
        Assert.Throws<ArgumentException>(() => RuntimeEndpoint.ToSocketPath("unix://relative.sock"));
    }

    [Fact]
    public async Task StoppedContainerd_FailsWithTheEndpoint_AndWorksAgainAfterRestart()
    {
        var dir = Path.Combine("/tmp", "kps-" + Guid.NewGuid().ToString("N")[..8]);
        await using var containerd = await PrivateContainerd.StartAsync(dir, new PrivateContainerdOptions { ImportImages = false, DeleteBaseDirectoryOnDispose = true });
        await using var client = containerd.CreateClient(TimeSpan.FromSeconds(5));
        await client.VersionAsync();

        await containerd.StopAsync();
        var error = await Assert.ThrowsAsync<KubeletRuntimeException>(() => client.ImageStatusAsync("kubeletps.local/busybox:latest"));

        Assert.Contains(error.Kind, new[] { RuntimeErrorKind.EndpointMissing, RuntimeErrorKind.ConnectionFailed });
        Assert.Equal("ImageStatus", error.Operation);
        Assert.Contains(containerd.Endpoint, error.Message);

        await containerd.StartAgainAsync();
        Assert.Equal("containerd", (await client.VersionAsync()).RuntimeName);
    }

    [Fact]
    public async Task PodsSurviveAContainerdRestart_AndDisposeRemovesEverything()
    {
        var dir = Path.Combine("/tmp", "kps-" + Guid.NewGuid().ToString("N")[..8]);
        var containerd = await PrivateContainerd.StartAsync(dir, new PrivateContainerdOptions { DeleteBaseDirectoryOnDispose = true });
        string socket = containerd.SocketPath, bridge = containerd.BridgeName;
        try
        {
            await using var client = containerd.CreateClient(TimeSpan.FromSeconds(30));
            var uid = Guid.NewGuid().ToString();
            var pod = new PodSandboxSpec { Name = "survivor", Namespace = "default", Uid = uid, LogDirectory = Path.Combine(containerd.PodLogsDir, uid) };
            var sandboxId = await client.RunPodSandboxAsync(pod);
            var containerId = await client.CreateContainerAsync(sandboxId, new ContainerSpec { Name = "main", Image = containerd.BusyboxImage, Command = ["sleep", "3600"] }, pod);
            await client.StartContainerAsync(containerId);

            await containerd.RestartAsync();

            // Shims keep containers running while containerd is away; CRI finds them again.
            Assert.Equal(ContainerState.Running, (await client.ContainerStatusAsync(containerId)).State);
            Assert.Equal(PodSandboxState.Ready, (await client.PodSandboxStatusAsync(sandboxId)).State);
            Assert.True(Directory.Exists($"/sys/class/net/{bridge}"));
        }
        finally
        {
            await containerd.DisposeAsync();
        }

        Assert.Empty(LinuxNativeMountsUnder(dir));
        Assert.False(Directory.Exists($"/sys/class/net/{bridge}"), $"bridge {bridge} left behind");
        Assert.False(Directory.Exists(dir), $"{dir} left behind");
        Assert.DoesNotContain(ProcessCommandLines(), args => args.Contains(socket));
    }

    private static IEnumerable<string> LinuxNativeMountsUnder(string dir)
        => File.ReadLines("/proc/self/mountinfo").Select(l => l.Split(' ')[4]).Where(m => m.StartsWith(dir, StringComparison.Ordinal));

    private static IEnumerable<string> ProcessCommandLines()
    {
        foreach (var proc in Directory.EnumerateDirectories("/proc").Where(d => int.TryParse(Path.GetFileName(d), out _)))
        {
            string cmdline;
            try
            {
                cmdline = File.ReadAllText(Path.Combine(proc, "cmdline")).Replace('\0', ' ');
            }
            catch (IOException)
            {
                continue;
            }

            yield return cmdline;
        }
    }
}
