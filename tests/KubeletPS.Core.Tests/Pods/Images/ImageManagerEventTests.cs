using k8s.Models;
using KubeletPS.Core.Pods.Events;
using KubeletPS.Core.Pods.Images;
using KubeletPS.Core.Runtime;
using KubeletPS.Core.Tests.Support.Fakes;

namespace KubeletPS.Core.Tests.Pods.Images;

/// <summary>The events the image manager records, as kubelet's pkg/kubelet/images/image_manager.go records them.</summary>
public sealed class ImageManagerEventTests
{
    private static readonly V1Pod Pod = new()
    {
        Metadata = new V1ObjectMeta { Name = "web", NamespaceProperty = "default", Uid = "u-1" },
        Spec = new V1PodSpec { Containers = [new V1Container { Name = "app", Image = "kubeletps.local/absent:1", ImagePullPolicy = "Never" }] },
    };

    [Fact]
    public async Task AbsentImageWithPullPolicyNeverRecordsErrImageNeverPullOnTheContainer()
    {
        var events = new RecordingEvents();
        var manager = new ImageManager(new FakeImageService(), NullKubeletLog.Instance) { Events = events };

        var e = await Assert.ThrowsAsync<ImagePullException>(() => manager.EnsureImageAsync(Pod, Pod.Spec.Containers[0], new PodSandboxSpec { Name = "web", Namespace = "default", Uid = "u-1" }, CancellationToken.None));

        Assert.Equal("ErrImageNeverPull", e.Reason);
        var recorded = Assert.Single(events.Recorded);
        Assert.Equal((EventTypes.Warning, "ErrImageNeverPull", "Container image \"kubeletps.local/absent:1\" is not present with pull policy of Never"),
            (recorded.Type, recorded.Reason, recorded.Message));
        Assert.Equal("spec.containers{app}", recorded.InvolvedObject.FieldPath);
    }
}
