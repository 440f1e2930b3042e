using KubeletPS.Core.Runtime;
using KubeletPS.TestCluster.Runtime;

namespace KubeletPS.Core.Tests.Runtime;

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
}
