namespace KubeletPS.Core.Node;

/// <summary>
/// Who decides the node's pressure conditions (kubelet: the eviction manager, whose IsUnderMemoryPressure etc.
/// the node status setters read): MemoryPressure, DiskPressure and PIDPressure are True while it says so.
/// </summary>
public interface INodePressure
{
    /// <summary>Whether the condition (MemoryPressure, DiskPressure or PIDPressure) is True now.</summary>
    bool HasCondition(string conditionType);
}
