using System.Text.Json.Nodes;
using KubeletPS.TestCluster.Storage;

namespace KubeletPS.TestCluster.Auth;

/// <summary>
/// The NodeRestriction admission plugin: checks on the objects themselves that keep a node to its own Node, its own Lease,
/// pods bound to it and mirror pods. Runs after authorization, with the stored object and the incoming one.
/// </summary>
public static class NodeRestriction
{
    public const string MirrorPodAnnotation = "kubernetes.io/config.mirror";

    /// <param name="existing">The stored object (null on create).</param>
    /// <param name="incoming">The object being written (null on delete).</param>
    public static void Admit(UserInfo user, string verb, ResourceType type, string subresource, string name, JsonObject? existing, JsonObject? incoming)
    {
        if (user.NodeName is not { } node) return;
        if (type == ResourceRegistry.Nodes && verb is "create" or "update" or "patch" or "delete" && name != node)
            throw Forbidden.ByAdmission(type, name, $"node \"{node}\" is not allowed to modify node \"{name}\"");

        if (type == ResourceRegistry.Leases && verb is "create" && name != node)
            throw Forbidden.ByAdmission(type, name, "can only access node lease with the same name as the requesting node");

        if (type == ResourceRegistry.Pods)
        {
            switch (verb, subresource)
            {
                case ("create", ""):
                    if (incoming?["metadata"]?["annotations"]?[MirrorPodAnnotation] is null)
                        throw Forbidden.ByAdmission(type, name, $"pod does not have \"{MirrorPodAnnotation}\" annotation, node \"{node}\" can only create mirror pods");
                    if (NodeNameOf(incoming) != node)
                        throw Forbidden.ByAdmission(type, name, $"node \"{node}\" can only create pods with spec.nodeName set to itself");
                    break;
                case ("update" or "patch", "status"):
                    if (NodeNameOf(existing) != node)
                        throw Forbidden.ByAdmission(type, name, $"node \"{node}\" can only update pod status for pods with spec.nodeName set to itself");
                    break;
                case ("delete", ""):
                    if (NodeNameOf(existing) != node)
                        throw Forbidden.ByAdmission(type, name, $"node \"{node}\" can only delete pods with spec.nodeName set to itself");
                    break;
            }
        }
    }

    private static string? NodeNameOf(JsonObject? pod) => pod?["spec"]?["nodeName"]?.GetValue<string>();
}
