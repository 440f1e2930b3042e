using System.Net;
using System.Security.Cryptography.X509Certificates;
using k8s.Models;
using KubeletPS.Core.Pods.KubeRuntime;
using KubeletPS.Core.Server;
using KubeletPS.Core.Server.Streaming;
using KubeletPS.TestCluster.Server;
using KubeletPS.Core.Tests.Runtime;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace KubeletPS.Core.Tests.Server.Streaming;

/// <summary>
/// The kubelet's streaming endpoints alone on Kestrel (plain HTTP on 127.0.0.1:0), over the shared
/// private containerd, with one running busybox pod the "kubelet" knows.
/// </summary>
internal sealed class StreamingHost : IAsyncDisposable
{
    private readonly WebApplication? _app;
    private readonly KubeletServerTestHost? _kubelet;
    private readonly ContainerdFixture _fixture;

    private StreamingHost(WebApplication? app, KubeletServerTestHost? kubelet, ContainerdFixture fixture, V1Pod pod, string sandboxId, List<V1Pod> known)
    {
        KnownPods = known;
        _app = app;
        _kubelet = kubelet;
        _fixture = fixture;
        Pod = pod;
        SandboxId = sandboxId;
        var address = app is not null ? app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() : kubelet!.BaseUrl;
        BaseUri = new Uri(address);
    }

    /// <summary>The whole kubelet server (TLS, authentication, authorization, routes) when started with one.</summary>
    public KubeletServerTestHost? Kubelet => _kubelet;

    public Uri BaseUri { get; }
    public V1Pod Pod { get; }

    /// <summary>The pods the "kubelet" runs, <see cref="Pod"/> first; a test may add others (with no containers of their own).</summary>
    public List<V1Pod> KnownPods { get; }
    public string SandboxId { get; }
    public const string Container = "main";

    /// <summary>ws:// or http:// URL of a kubelet path on this host.</summary>
    public Uri Url(string pathAndQuery, bool webSocket = false) =>
        new((webSocket ? "ws" : "http") + "://" + BaseUri.Authority + pathAndQuery);

    public static Task<StreamingHost> StartAsync(ContainerdFixture fixture, TimeSpan? idleTimeout = null, params string[] command) =>
        StartAsync(fixture, null, idleTimeout, command);

    /// <summary>With <paramref name="serving"/>, HTTPS with that certificate, as the kubelet's port is.</summary>
    public static Task<StreamingHost> StartAsync(ContainerdFixture fixture, X509Certificate2? serving, TimeSpan? idleTimeout, params string[] command) =>
        StartAsync(fixture, null, serving, idleTimeout, command);

    /// <summary>
    /// The streaming endpoints on the real kubelet server (<see cref="KubeletServerTestHost"/>: node
    /// <see cref="KubeletServerTestHost.NodeName"/>, client CA the cluster's, authorization by <paramref name="authorizationMode"/>).
    /// </summary>
    public static Task<StreamingHost> StartOnKubeletServerAsync(ContainerdFixture fixture, TestApiServer api, string authorizationMode, params string[] command) =>
        StartAsync(fixture, (api, authorizationMode), null, null, command);

    private static async Task<StreamingHost> StartAsync(ContainerdFixture fixture, (TestApiServer Api, string AuthorizationMode)? kubeletServer,
        X509Certificate2? serving, TimeSpan? idleTimeout, string[] command)
    {
        var spec = fixture.NewPod("stream");
        var sandboxId = await fixture.Client.RunPodSandboxAsync(spec);
        try
        {
            var container = fixture.NewContainer(Container, command.Length > 0 ? command : ["sleep", "3600"]) with
            {
                Labels = new Dictionary<string, string> { [KubeletLabels.ContainerName] = Container, [KubeletLabels.PodUid] = spec.Uid },
            };
            var id = await fixture.Client.CreateContainerAsync(sandboxId, container, spec);
            await fixture.Client.StartContainerAsync(id);
            var pod = new V1Pod
            {
                Metadata = new V1ObjectMeta { Name = spec.Name, NamespaceProperty = spec.Namespace, Uid = spec.Uid },
                Spec = new V1PodSpec { Containers = [new V1Container { Name = Container, Image = fixture.Containerd.BusyboxImage }] },
            };
            var known = new List<V1Pod> { pod };
            if (kubeletServer is { } k)
            {
                var host = await KubeletServerTestHost.StartAsync(k.Api, o => o with { AuthorizationMode = k.AuthorizationMode },
                    c => new KubeletServerContext { Options = c.Options, Client = c.Client, Identity = c.Identity, Runtime = fixture.Client, Pods = () => [.. known] });
                return new StreamingHost(null, host, fixture, pod, sandboxId, known);
            }

            var runtime = new StreamingRuntime(fixture.Client, () => [.. known]);
            var handler = new KubeletStreamingHandler(runtime, new UpgradeAwareProxy(new UpgradeAwareProxyOptions { IdleTimeout = idleTimeout ?? UpgradeAwareProxyOptions.DefaultIdleTimeout }));
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, listen =>
            {
                if (serving is not null) listen.UseHttps(serving);
            }));
            var app = builder.Build();
            app.Run(handler.HandleAsync);
            await app.StartAsync();
            return new StreamingHost(app, null, fixture, pod, sandboxId, known);
        }
        catch
        {
            await fixture.RemovePodAsync(sandboxId);
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        if (_kubelet is not null) await _kubelet.DisposeAsync();
        await _fixture.RemovePodAsync(SandboxId);
    }
}
