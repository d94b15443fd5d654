# hardenctl in every image: the hardening module at a level each image chooses (`imageLevel`,
# default standard), its agent, and the image's own SSH host setting. The VM tests and the image
# audit in CI check the result against the same level.
{ config, lib, ... }:
{
  options.hardenctlImage.level = lib.mkOption {
    type = lib.types.enum [ "minimal" "standard" "strict" ];
    default = "standard";
    description = ''
      The hardenctl level of this image. `strict` also sets `net.ipv4.ip_forward = 0`, which
      stops Docker's bridge networking: a strict image that needs containers with network must
      add a waiver and the sysctl override (see docs/images.md).
    '';
  };

  config.security.hardening = {
    enable = true;
    level = config.hardenctlImage.level;
  };
}
