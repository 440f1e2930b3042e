using System.Management.Automation;
using KubeletPS.Core.Join;

namespace KubeletPS.Commands;

/// <summary>
/// Validates -Token as kubeadm does ([a-z0-9]{6}.[a-z0-9]{16}) without echoing the value, which ValidatePattern would do
/// (a mistyped token is still mostly a secret).
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class BootstrapTokenArgumentAttribute : ValidateArgumentsAttribute
{
    protected override void Validate(object arguments, EngineIntrinsics engineIntrinsics)
    {
        var token = arguments is PSObject ps ? ps.BaseObject as string : arguments as string;
        if (!BootstrapTokenString.IsValid(token))
        {
            throw new ValidationMetadataException(
                $"The bootstrap token ({(token ?? "").Length} characters) is not of the form [a-z0-9]{{6}}.[a-z0-9]{{16}}, for example abcdef.0123456789abcdef; " +
                "print one on a control-plane node with: kubeadm token create --print-join-command");
        }
    }
}

/// <summary>Validates each -CACertHash as kubeadm's pubkeypin does (sha256:64 hex digits), with kubeadm's message.</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class CACertHashArgumentAttribute : ValidateEnumeratedArgumentsAttribute
{
    protected override void ValidateElement(object element)
    {
        var hash = element is PSObject ps ? ps.BaseObject as string : element as string;
        if (PublicKeyPins.Validate(hash ?? "", out _) is { } problem)
            throw new ValidationMetadataException($"invalid discovery token CA certificate hash: {problem}");
    }
}
