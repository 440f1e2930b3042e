using KubeletPS.Core.Pods.Images;
using KubeletPS.Core.Pods.KubeRuntime;
using KubeletPS.Core.Pods.Network;
using KubeletPS.Core.Pods.Probes;
using KubeletPS.Core.Pods.Volumes;
using KubeletPS.Core.Pods.Workers;
using KubeletPS.Core.Tests.Support.Fakes;

namespace KubeletPS.Core.Tests.Pods.KubeRuntime;

/// <summary>A <see cref="KubeGenericRuntimeManager"/> over the fake runtime and image services, its directories in a temporary root.</summary>
internal sealed class FakeRuntimeManager : IAsyncDisposable
{
    public FakeRuntimeManager()
    {
        Root = Path.Combine(Path.GetTempPath(), "kps-fake-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(Root);
        Runtime = new FakeRuntimeService();
        Images = new FakeImageService(Runtime.Calls);
        Images.AddImage("busybox:1.36");
        var prober = new Prober(Runtime);
        Probes = new ProbeManager(prober, Log);
        var specs = new PodRuntimeSpecs(Path.Combine(Root, "logs"), Root, new PodDns([], "", null, Log), "10.0.0.1");
        Manager = new KubeGenericRuntimeManager(Runtime, specs, new PodVolumes(Root), new ImageManager(Images, Log), Probes, prober, new CrashLoopBackOff(), Log)
        {
            Events = Events,
        };
    }

    public string Root { get; }
    public FakeRuntimeService Runtime { get; }
    public FakeImageService Images { get; }
    public ProbeManager Probes { get; }
    public KubeGenericRuntimeManager Manager { get; }
    public RecordingLog Log { get; } = new();
    public RecordingEvents Events { get; } = new();

    public async ValueTask DisposeAsync()
    {
        await Probes.DisposeAsync();
        try { Directory.Delete(Root, recursive: true); }
        catch (IOException) { }
    }
}
