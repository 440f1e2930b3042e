using k8s.Models;

namespace KubeletPS.Core.Configuration;

/// <summary>
/// Kubelet's parseResourceList for systemReserved and kubeReserved, run when the file is read as kubelet runs it at
/// start: only cpu, memory, ephemeral-storage and pid may be reserved, each a quantity that is not negative (a
/// negative reservation would raise the node's allocatable above its capacity). Kubelet's messages, with the flag
/// names it prints.
/// </summary>
public static class ReservationFields
{
    private static readonly string[] Reservable = ["cpu", "memory", "ephemeral-storage", "pid"];

    /// <exception cref="KubeletConfigException">A reservation kubelet refuses; the message is kubelet's and names the field.</exception>
    public static void Validate(KubeletConfiguration c, string? path)
    {
        Check(c.KubeReserved, "kubeReserved", "--kube-reserved", path);
        Check(c.SystemReserved, "systemReserved", "--system-reserved", path);
    }

    private static void Check(IReadOnlyDictionary<string, string>? reserved, string field, string flag, string? path)
    {
        foreach (var (resource, text) in (reserved ?? new Dictionary<string, string>()).OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            if (Problem(resource, text ?? "") is { } problem)
                throw new KubeletConfigException($"{flag} value failed to parse: {problem}", path, field: field);
        }
    }

    private static string? Problem(string resource, string text)
    {
        if (!Reservable.Contains(resource)) return $"cannot reserve \"{resource}\" resource";
        ResourceQuantity quantity;
        try
        {
            quantity = Api.QuantityExponents.Parse(text);
        }
        catch (Exception e) when (e is FormatException or ArgumentException or OverflowException)
        {
            return $"failed to parse quantity \"{text}\" for \"{resource}\" resource: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
        }
        return double.IsNegative(quantity.ToDouble()) ? $"resource quantity for \"{resource}\" cannot be negative: {text}" : null;
    }
}
