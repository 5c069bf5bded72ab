from wuye.accounts import permissions


def ui_permissions(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"perms_ui": {}}
    return {"perms_ui": permissions.ui_flags(user)}
