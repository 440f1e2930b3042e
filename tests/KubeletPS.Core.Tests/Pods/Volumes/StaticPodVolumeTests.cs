using KubeletPS.Core.Pods.Volumes;

namespace KubeletPS.Core.Tests.Pods.Volumes;

/// <summary>The volumes a static pod may use, as attacks: its downwardAPI volume is read-only and atomic; its Memory emptyDir is a tmpfs.</summary>
[Collection(PodSyncCollection.Name)]
public sealed class StaticPodVolumeTests(PodSyncFixture fixture)
{
    [Fact]
    public async Task A_static_pod_cannot_change_its_downwardAPI_volume_and_its_Memory_emptyDir_is_a_writable_tmpfs()
    {
        await using var h = fixture.NewAgent();
        h.Write("info.yaml", """
            apiVersion: v1
            kind: Pod
            metadata: {name: info, labels: {app: info}}
            spec:
              terminationGracePeriodSeconds: 2
              volumes:
              - name: info
                downwardAPI:
                  items:
                  - {path: labels, fieldRef: {fieldPath: metadata.labels}}
                  - {path: meta/name, fieldRef: {fieldPath: metadata.name}, mode: 384}
              - name: scratch
                emptyDir: {medium: Memory, sizeLimit: 4Mi}
              containers:
              - name: main
                image: kubeletps.local/busybox:latest
                imagePullPolicy: IfNotPresent
                command: ["sleep", "3600"]
                volumeMounts:
                - {name: info, mountPath: /info, readOnly: false}
                - {name: scratch, mountPath: /scratch}
            """);
        var pod = await h.WaitForRunningAsync("info");
        var id = (await h.ContainersAsync(pod.Metadata.Uid)).Single().Id;
        async Task<string> Run(string script) { var r = await h.Client.ExecSyncAsync(id, ["sh", "-c", script], TimeSpan.FromSeconds(10)); return (r.Stdout + r.Stderr).Trim(); }

        var attack = await Run("(echo x > /info/labels) 2>&1 && echo WROTE; (rm -f /info/labels) 2>&1 && echo REMOVED; " +
            "(touch /info/new) 2>&1 && echo CREATED; (ln -sf / /info/meta) 2>&1 && echo LINKED");
        Assert.DoesNotContain("WROTE", attack);
        Assert.DoesNotContain("REMOVED", attack);
        Assert.DoesNotContain("CREATED", attack);
        Assert.DoesNotContain("LINKED", attack);
        Assert.Contains("Read-only file system", attack);
        Assert.Equal("app=\"info\"", await Run("cat /info/labels"));
        Assert.Equal("info-node1", await Run("cat /info/meta/name"));
        Assert.Equal("..data/meta", await Run("readlink /info/meta"));
        Assert.Equal("600", await Run("stat -L -c %a /info/meta/name"));

        Assert.Equal("ok tmpfs", await Run("echo ok > /scratch/f && echo $(cat /scratch/f) $(stat -f -c %T /scratch)"));
        var scratch = Path.Combine(h.RootDirectory, "pods", pod.Metadata.Uid, "volumes", "kubernetes.io~empty-dir", "scratch");
        Assert.True(MemoryBackedVolumes.IsTmpfsMountPoint(scratch));
        Assert.Equal(4L << 20, FileSystemStats.Read(scratch)!.SizeBytes);

        // The pod's removal unmounts the tmpfs before its directory goes.
        h.Remove("info.yaml");
        await PodSyncFixture.WaitForAsync(() => Directory.Exists(Path.Combine(h.RootDirectory, "pods", pod.Metadata.Uid)), gone => !gone, "the pod directory removed");
        Assert.Empty(HostMounts.MountPointsUnder(h.RootDirectory));
    }
}
